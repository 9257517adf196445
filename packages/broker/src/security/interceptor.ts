/**
 * Authentication of every call on the client listener, in one place: a grpc-js server
 * interceptor that runs the {@link Authenticator} on the request headers before any message
 * reaches a handler, so a call with bad credentials is UNAUTHENTICATED (or PERMISSION_DENIED
 * for a forged forwarded principal) before any work, whatever service it is for, including
 * streams and services added later. AuthService and health checks pass without credentials.
 */
import * as grpc from "@grpc/grpc-js";
import { ClientAuthenticator } from "./authenticator.ts";
import { type Authenticator, PermissionDeniedError, UnauthenticatedError } from "./principal.ts";

/** The interceptor for `authenticator`; see the module comment. */
export function authenticationInterceptor(authenticator: Authenticator): grpc.ServerInterceptor {
  return (method, next) => {
    const call: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(next, {
      start: (startNext) =>
        startNext({
          onReceiveMetadata: (metadata, pass) => {
            const source = {
              metadata,
              getAuthContext: () => call.getAuthContext(),
              getPeer: () => call.getPeer(),
            };
            authenticator.authenticate(source).then(
              () => pass(metadata),
              (error: unknown) => {
                if (ClientAuthenticator.exempt(method.path) && isMissingOnly(error)) {
                  pass(metadata);
                  return;
                }
                call.sendStatus({
                  code:
                    error instanceof PermissionDeniedError
                      ? grpc.status.PERMISSION_DENIED
                      : error instanceof UnauthenticatedError
                        ? grpc.status.UNAUTHENTICATED
                        : grpc.status.INTERNAL,
                  details: (error as Error).message,
                  metadata: new grpc.Metadata(),
                });
              },
            );
          },
        }),
    });
    return call;
  };
}

/** A refusal only for lack of credentials (AuthService must stay reachable to log in). */
function isMissingOnly(error: unknown): boolean {
  return error instanceof UnauthenticatedError && /anonymous calls are refused/.test(error.message);
}
