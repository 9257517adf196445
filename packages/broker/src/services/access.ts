/**
 * The edge of authorization: who a call is (the node's authenticator) and what it may do (the
 * node's authorizer), bound to one call. With `authorizer=none` and no authenticator every
 * check passes without looking at the call (the development default costs nothing).
 */
import type * as grpc from "@grpc/grpc-js";
import type { AclOperation, AclResourceType } from "@strand/controller";
import { ErrorCode, type ErrorCodeInfo } from "@strand/protocol";
import type { PartitionError } from "../replica/types.ts";
import {
  ANONYMOUS,
  type AuthenticatedCall,
  type AuthenticateOptions,
  PermissionDeniedError,
  type Principal,
  principalName,
  transportAuthenticator,
} from "../security/principal.ts";
import type { ServiceContext } from "./context.ts";

/** What one call may do. */
export interface CallAccess {
  readonly principal: Principal;
  /** Whether `operation` on the resource is allowed; a denial is counted and logged. */
  allowed(operation: AclOperation, type: AclResourceType, name: string): boolean;
  /** Whether `operation` on some resource of the type is allowed (counted when denied). */
  allowedAny(operation: AclOperation, type: AclResourceType): boolean;
  /** Like {@link allowed}, without counting a denial (filtering what a listing shows). */
  visible(operation: AclOperation, type: AclResourceType, name: string): boolean;
  /** Throws {@link PermissionDeniedError} (gRPC PERMISSION_DENIED) unless allowed. */
  require(operation: AclOperation, type: AclResourceType, name: string): void;
}

/** The access of a call when nothing is checked. */
export const ALLOW_ALL: CallAccess = Object.freeze({
  principal: ANONYMOUS,
  allowed: () => true,
  allowedAny: () => true,
  visible: () => true,
  require: () => undefined,
});

/** The authorization code of a resource type: TOPIC_, GROUP_ or CLUSTER_AUTHORIZATION_FAILED. */
export function deniedCode(type: AclResourceType): ErrorCodeInfo {
  if (type === "topic") return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (type === "group") return ErrorCode.GROUP_AUTHORIZATION_FAILED;
  return ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
}

/** The text of a denial: `CODE: principal may not OP TYPE NAME; action`. */
export function deniedMessage(
  principal: Principal,
  operation: AclOperation,
  type: AclResourceType,
  name: string,
): string {
  const code = deniedCode(type);
  const what = type === "cluster" ? "the cluster" : `${type} ${name}`;
  return `${code.name}: ${principalName(principal)} may not ${operation} ${what}; ${code.action}`;
}

/** The IP address of a grpc-js peer string (`ipv4:1.2.3.4:5`, `ipv6:[::1]:5`), or `*`. */
export function peerHost(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(bare);
  if (v6 !== null) return v6[1] ?? "*";
  const v4 = /^([^:]+):\d+$/.exec(bare);
  return v4?.[1] ?? "*";
}

/**
 * The access of `call`: authenticates it (UNAUTHENTICATED on bad credentials) when needed;
 * `fresh` checks the credentials of an already authenticated call again (a stream).
 */
export async function callAccess(
  ctx: ServiceContext,
  call: AuthenticatedCall & { getPeer(): string },
  options: AuthenticateOptions = {},
): Promise<CallAccess> {
  const authorizer = ctx.authorizer;
  if ((authorizer === undefined || !authorizer.enabled) && ctx.authenticator === undefined)
    return ALLOW_ALL;
  const principal = await (ctx.authenticator ?? transportAuthenticator).authenticate(call, options);
  if (authorizer === undefined || !authorizer.enabled) return { ...ALLOW_ALL, principal };
  const host = peerHost(call.getPeer());
  const request = (operation: AclOperation, resourceType: AclResourceType, resourceName: string) =>
    ({ principal, host, operation, resourceType, resourceName }) as const;
  return {
    principal,
    allowed: (op, type, name) => authorizer.authorize(request(op, type, name)),
    allowedAny: (op, type) =>
      authorizer.authorizeAny({ principal, host, operation: op, resourceType: type }),
    visible: (op, type, name) => authorizer.quietly(request(op, type, name)),
    require: (op, type, name) => {
      if (!authorizer.authorize(request(op, type, name)))
        throw new PermissionDeniedError(deniedMessage(principal, op, type, name));
    },
  };
}

/**
 * The items whose topic `operation` is denied on, by index, each with its
 * TOPIC_AUTHORIZATION_FAILED error (one decision per distinct topic).
 */
export function deniedTopics<T extends { readonly topic: string }>(
  access: CallAccess,
  operation: AclOperation,
  items: readonly T[],
): ReadonlyMap<number, PartitionError> {
  // Runs per produce and fetch: the maps are made only when there is more than one item or
  // something is denied; the usual answer is the shared empty map.
  const decisions = items.length > 1 ? new Map<string, boolean>() : null;
  let denied: Map<number, PartitionError> | null = null;
  for (let i = 0; i < items.length; i++) {
    const topic = items[i]!.topic;
    let ok = decisions?.get(topic);
    if (ok === undefined) {
      ok = access.allowed(operation, "topic", topic);
      decisions?.set(topic, ok);
    }
    if (!ok) {
      const text = deniedMessage(access.principal, operation, "topic", topic);
      denied ??= new Map();
      denied.set(i, { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED.code, errorMessage: text });
    }
  }
  return denied ?? NONE_DENIED;
}

const NONE_DENIED: ReadonlyMap<number, PartitionError> = new Map();

/**
 * Serves the items not in `denied` with `serve` and answers the denied ones with their error,
 * every result in the items' order.
 */
export async function servePermitted<T, R>(
  items: readonly T[],
  denied: ReadonlyMap<number, PartitionError>,
  failed: (item: T, error: PartitionError) => R,
  serve: (permitted: readonly T[]) => Promise<readonly R[]>,
): Promise<R[]> {
  if (denied.size === 0) return [...(await serve(items))];
  const permitted = items.filter((_, i) => !denied.has(i));
  const served = permitted.length === 0 ? [] : await serve(permitted);
  let k = 0;
  return items.map((item, i) => {
    const error = denied.get(i);
    return error === undefined ? (served[k++] as R) : failed(item, error);
  });
}

/** Throws PERMISSION_DENIED (TOPIC_AUTHORIZATION_FAILED) unless every topic allows `operation`. */
export function requireTopics(
  access: CallAccess,
  operation: AclOperation,
  items: readonly { readonly topic: string }[],
): void {
  for (const topic of new Set(items.map((i) => i.topic))) access.require(operation, "topic", topic);
}

/** The call type callAccess reads (a grpc-js server call). */
export type AccessCall = grpc.ServerUnaryCall<unknown, unknown>;
