/**
 * Undecodable request bytes answer INVALID_ARGUMENT, as docs/errors.md promises. grpc-js
 * answers INTERNAL ("Error deserializing request") when a method's deserializer throws, before
 * any handler or status mapping runs; so the client services' deserializers are wrapped to
 * return a marker instead of throwing, and a server interceptor answers the marker with
 * INVALID_ARGUMENT before the handler sees it.
 */
import * as grpc from "@grpc/grpc-js";

const UNDECODABLE = Symbol("undecodable request");

interface Undecodable {
  readonly [UNDECODABLE]: string;
}

function undecodableReason(message: unknown): string | null {
  if (typeof message !== "object" || message === null || !(UNDECODABLE in message)) return null;
  return (message as Undecodable)[UNDECODABLE];
}

/** `definition` with request deserializers that mark undecodable bytes instead of throwing. */
export function lenientDefinition(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          const marker: Undecodable = { [UNDECODABLE]: (error as Error).message };
          return marker;
        }
      },
    };
  }
  return out;
}

/** Answers a marked (undecodable) request with INVALID_ARGUMENT; see the module comment. */
export const rejectUndecodable: grpc.ServerInterceptor = (method, next) => {
  let refused = false;
  const call: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(next, {
    start: (startNext) =>
      startNext({
        onReceiveMessage: (message, pass) => {
          const reason = undecodableReason(message);
          if (reason === null) {
            pass(message);
            return;
          }
          refused = true;
          call.sendStatus({
            code: grpc.status.INVALID_ARGUMENT,
            details: `the request bytes do not decode as ${method.path}'s request message: ${reason}`,
            metadata: new grpc.Metadata(),
          });
        },
        // The handler never got a message; do not let it answer "no request message" too.
        onReceiveHalfClose: (pass) => {
          if (!refused) pass();
        },
      }),
  });
  return call;
};
