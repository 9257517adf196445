/**
 * Partition routing (docs/design.md §6, the thin path): any broker accepts any request. Each
 * partition goes to its leader as this broker's metadata image names it: served locally when
 * this broker leads it, otherwise forwarded ONE hop to the leader's client listener, grouped
 * per leader, results merged back in request order. A forwarded request carries
 * {@link FORWARDED_HEADER} and is never forwarded again: a partition whose leader is elsewhere
 * answers NOT_LEADER_OR_FOLLOWER with a leader hint instead.
 */
import * as grpc from "@grpc/grpc-js";
import { assert } from "@strand/base";
import type { MetadataImage } from "@strand/controller";
import { type ClientStubs, ErrorCode, FORWARDED_HEADER, PRINCIPAL_HEADER } from "@strand/protocol";
import type { LeaderHint, PartitionError } from "../replica/types.ts";
import { encodePrincipal, principalOf } from "../security/authenticator.ts";
import type { Principal } from "../security/principal.ts";
import type { ServiceContext } from "./context.ts";
import { partitionError, UnavailableError } from "./wire.ts";

/** Identifies a partition in a request. */
export interface PartitionKey {
  readonly topic: string;
  readonly partition: number;
}

/** Where each item of a request goes, by index. */
export interface RoutePlan {
  readonly local: number[];
  readonly remote: Map<number, number[]>;
  readonly failed: Map<number, PartitionError>;
}

/** How to serve a routed request's items. */
export interface RouteHandlers<T, R> {
  /** Serves items this broker leads. */
  local(items: readonly T[]): Promise<R[]>;
  /** Forwards items to their leader; answers one result per item, in order. */
  remote(stubs: ClientStubs, items: readonly T[], metadata: grpc.Metadata): Promise<R[]>;
  /** The result for an item that cannot be served. */
  failed(item: T, error: PartitionError): R;
}

/** True when the call came from another broker (never forward it again). */
export function isForwarded(metadata: grpc.Metadata): boolean {
  return metadata.get(FORWARDED_HEADER).length > 0;
}

/**
 * Where a routed request comes from: whether another broker already forwarded it, and on
 * whose behalf it runs. A forward carries the principal (docs/security.md), so the leader
 * serves it as the client, not as the forwarding node.
 */
export interface CallOrigin {
  readonly forwarded: boolean;
  readonly principal: Principal;
}

/** The origin of a client call the client listener's interceptor authenticated. */
export function callOrigin(metadata: grpc.Metadata): CallOrigin {
  return { forwarded: isForwarded(metadata), principal: principalOf(metadata) };
}

/** The origin of the broker's own lookups (the group coordinator's): the node itself. */
export function internalOrigin(ctx: ServiceContext): CallOrigin {
  return { forwarded: false, principal: { kind: "node", nodeId: ctx.nodeId } };
}

/** The client address of broker `id` as a leader hint (undefined when unknown). */
export function leaderHint(
  image: MetadataImage,
  id: number,
  leaderEpoch: number,
): LeaderHint | undefined {
  const broker = [...image.brokers.values()].find((b) => b.id === id);
  const client = broker?.listeners.find((l) => l.name === "client");
  if (client === undefined) return undefined;
  return { leaderId: id, leaderEpoch, host: client.host, port: client.port };
}

/** True when this broker leads every item's partition as the image says (planRoutes' local). */
function allLocal(ctx: ServiceContext, items: readonly PartitionKey[]): boolean {
  const image = ctx.image();
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const registration = image.topicsByName.get(item.topic)?.partitions.get(item.partition);
    if (registration?.leader !== ctx.nodeId) return false;
  }
  return true;
}

/** Decides where each item goes; see the module comment. */
export function planRoutes(
  ctx: ServiceContext,
  items: readonly PartitionKey[],
  forwarded: boolean,
): RoutePlan {
  const image = ctx.image();
  const plan: RoutePlan = { local: [], remote: new Map(), failed: new Map() };
  items.forEach((item, index) => {
    const topic = image.topicsByName.get(item.topic);
    const registration = topic?.partitions.get(item.partition);
    if (topic === undefined || registration === undefined) {
      const what =
        topic === undefined
          ? `topic ${item.topic} does not exist`
          : `topic ${item.topic} has no partition ${item.partition} (it has ${topic.partitions.size})`;
      plan.failed.set(index, partitionError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, what));
      return;
    }
    const leader = registration.leader;
    const where = `${item.topic}-${item.partition}`;
    if (leader === null) {
      plan.failed.set(
        index,
        partitionError(ErrorCode.LEADER_NOT_AVAILABLE, `${where} has no leader`),
      );
      return;
    }
    if (leader === ctx.nodeId) {
      plan.local.push(index);
      return;
    }
    const hint = leaderHint(image, leader, registration.leaderEpoch);
    if (hint === undefined) {
      plan.failed.set(
        index,
        partitionError(
          ErrorCode.LEADER_NOT_AVAILABLE,
          `${where}'s leader ${leader} has no client address`,
        ),
      );
    } else if (forwarded) {
      plan.failed.set(
        index,
        partitionError(
          ErrorCode.NOT_LEADER_OR_FOLLOWER,
          `broker ${ctx.nodeId} does not lead ${where}; broker ${leader} at ${hint.host}:${hint.port} does`,
          hint,
        ),
      );
    } else {
      const group = plan.remote.get(leader) ?? [];
      group.push(index);
      plan.remote.set(leader, group);
    }
  });
  return plan;
}

/**
 * Serves `items` per {@link planRoutes}: local ones through `handlers.local`, remote ones by
 * forwarding per leader, the rest as failures. Throws UnavailableError when no item has a
 * leader at all, so clients back off and retry (gRPC UNAVAILABLE).
 */
export async function routeRequest<T extends PartitionKey, R>(
  ctx: ServiceContext,
  method: string,
  items: readonly T[],
  origin: CallOrigin,
  handlers: RouteHandlers<T, R>,
): Promise<R[]> {
  // The common case, every item led here, needs no plan: no maps, arrays or error strings
  // per request (this runs for every produce and fetch).
  if (items.length > 0 && allLocal(ctx, items)) {
    const out = await handlers.local(items);
    assert(out.length === items.length, "local results must match the items");
    return out;
  }
  const plan = planRoutes(ctx, items, origin.forwarded);
  const noLeader = [...plan.failed.values()].filter(
    (e) => e.errorCode === ErrorCode.LEADER_NOT_AVAILABLE.code,
  );
  if (items.length > 0 && noLeader.length === items.length)
    throw new UnavailableError(
      `no leader for the requested partitions (an election may be in progress); retry shortly`,
    );
  const results = new Array<R | undefined>(items.length);
  for (const [index, error] of plan.failed) results[index] = handlers.failed(items[index]!, error);
  const jobs: Promise<void>[] = [];
  if (plan.local.length > 0) {
    jobs.push(
      handlers.local(plan.local.map((i) => items[i]!)).then((out) => {
        assert(out.length === plan.local.length, "local results must match the items");
        plan.local.forEach((i, k) => {
          results[i] = out[k];
        });
      }),
    );
  }
  for (const [leader, indexes] of plan.remote)
    jobs.push(forwardGroup(ctx, method, origin, leader, indexes, items, results, handlers));
  await Promise.all(jobs);
  return results.map((r, i) => {
    assert(r !== undefined, `no result for item ${i}`);
    return r;
  });
}

async function forwardGroup<T extends PartitionKey, R>(
  ctx: ServiceContext,
  method: string,
  origin: CallOrigin,
  leader: number,
  indexes: readonly number[],
  items: readonly T[],
  results: (R | undefined)[],
  handlers: RouteHandlers<T, R>,
): Promise<void> {
  const group = indexes.map((i) => items[i]!);
  const stubs = ctx.peer(leader);
  const metadata = new grpc.Metadata();
  metadata.set(FORWARDED_HEADER, String(ctx.nodeId));
  metadata.set(PRINCIPAL_HEADER, encodePrincipal(origin.principal));
  let out: R[] | null = null;
  let why = `broker ${leader} is not reachable`;
  let code = ErrorCode.LEADER_NOT_AVAILABLE;
  if (stubs !== null) {
    ctx.metrics.forwardedRequestsTotal.inc({ method });
    try {
      out = await handlers.remote(stubs, group, metadata);
      if (out.length !== group.length) {
        why = `broker ${leader} answered ${out.length} results for ${group.length} partitions`;
        out = null;
      }
    } catch (error) {
      // A deadline is not a missing leader: the leader exists and may still apply the request,
      // so the client must learn that it timed out (and retry idempotently), not re-route.
      if ((error as grpc.ServiceError).code === grpc.status.DEADLINE_EXCEEDED) {
        code = ErrorCode.REQUEST_TIMED_OUT;
        why = `forwarding to broker ${leader} timed out`;
      } else why = `forwarding to broker ${leader} failed: ${(error as Error).message}`;
      ctx.logger.warn({ leader, method, err: String(error) }, "forwarding failed");
    }
  }
  indexes.forEach((i, k) => {
    results[i] = out === null ? handlers.failed(items[i]!, partitionError(code, why)) : out[k];
  });
}

/** Promise wrapper for a forwarded unary call with a deadline. */
export function unaryCall<Res>(
  start: (
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: Res) => void,
  ) => void,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    start({ deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error !== null) reject(error);
      else if (response === undefined) reject(new Error("empty gRPC response"));
      else resolve(response);
    });
  });
}
