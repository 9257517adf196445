/**
 * The pure controller: `handleRequest(state, request, nowMs)` dispatches to the handler of
 * the request type in an exhaustive switch and returns `{ records, response, sessions? }`.
 * Nothing here changes state: the caller proposes the records, and only replay applies them.
 */
import { createAcls, deleteAcls } from "./acls.ts";
import {
  allocateProducerIds,
  brokerHeartbeat,
  expireSessions,
  registerBroker,
  unregisterBroker,
} from "./brokers.ts";
import { alterPartition, electPreferredLeaders } from "./partitions.ts";
import type {
  ControllerRequest,
  ControllerResponses,
  ControllerResult,
  QuorumControllerState,
} from "./requests.ts";
import {
  alterConfigs,
  createPartitions,
  createTopic,
  deleteTopic,
  updateFeature,
} from "./topics.ts";
import { alterUserScramCredential } from "./users.ts";

/** A result whose response is the one for request type `T`. */
export type ResultOf<T extends ControllerRequest["type"]> = ControllerResult<
  ControllerResponses[T]
>;

/** Handles one request against the state at nowMs. */
export function handleRequest<R extends ControllerRequest>(
  state: QuorumControllerState,
  request: R,
  nowMs: number,
): ResultOf<R["type"]>;
export function handleRequest(
  state: QuorumControllerState,
  request: ControllerRequest,
  nowMs: number,
): ControllerResult<ControllerResponses[ControllerRequest["type"]]> {
  switch (request.type) {
    case "registerBroker":
      return registerBroker(state, request, nowMs);
    case "brokerHeartbeat":
      return brokerHeartbeat(state, request, nowMs);
    case "unregisterBroker":
      return unregisterBroker(state, request);
    case "createTopic":
      return createTopic(state, request);
    case "createPartitions":
      return createPartitions(state, request);
    case "deleteTopic":
      return deleteTopic(state, request);
    case "alterPartition":
      return alterPartition(state, request);
    case "allocateProducerIds":
      return allocateProducerIds(state, request);
    case "alterConfigs":
      return alterConfigs(state, request);
    case "alterUserScramCredential":
      return alterUserScramCredential(state, request);
    case "updateFeature":
      return updateFeature(state, request);
    case "electPreferredLeaders":
      return electPreferredLeaders(state);
    case "createAcls":
      return createAcls(state, request);
    case "deleteAcls":
      return deleteAcls(state, request);
    default:
      return unknownRequest(request);
  }
}

function unknownRequest(request: never): never {
  throw new Error(`unknown controller request ${JSON.stringify(request)}`);
}

/** The periodic work of the active controller: fence brokers whose session expired. */
export { expireSessions };
