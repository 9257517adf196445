/**
 * Partition handlers: AlterPartition (the leader's ISR change, compare-and-set on the leader
 * and partition epochs) and preferred-leader election. Pure.
 */
import { assert } from "@strand/base";
import { ErrorCode } from "@strand/protocol";
import { fail, OK } from "./brokers.ts";
import { eligibleIn, preferredLeaderChanges } from "./election.ts";
import type { PartitionRegistration } from "./image.ts";
import type {
  AlterPartitionRequest,
  AlterPartitionResponse,
  ControllerResult,
  ElectPreferredLeadersResponse,
  QuorumControllerState,
  ResponseBase,
} from "./requests.ts";
import { partitionEpoch } from "./types.ts";

type Checked =
  | { readonly p: PartitionRegistration }
  | { readonly error: ResponseBase; readonly p: PartitionRegistration | null };

function checkRequester(state: QuorumControllerState, req: AlterPartitionRequest): Checked {
  const b = state.image.brokers.get(req.brokerId);
  const p = state.image.topicsById.get(req.topicId)?.partitions.get(req.partition) ?? null;
  if (b === undefined) {
    return {
      error: fail(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${req.brokerId} is not registered`),
      p,
    };
  }
  if (b.epoch !== req.brokerEpoch) {
    return {
      error: fail(
        ErrorCode.STALE_BROKER_EPOCH,
        `broker epoch ${req.brokerEpoch} is not ${b.epoch}`,
      ),
      p,
    };
  }
  if (p === null) {
    const msg = `partition ${req.topicId}:${req.partition} does not exist`;
    return { error: fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, msg), p };
  }
  if (p.leader !== req.brokerId) {
    return {
      error: fail(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${req.brokerId} does not lead`),
      p,
    };
  }
  if (req.leaderEpoch !== p.leaderEpoch) {
    const msg = `leader epoch ${req.leaderEpoch} is not the current ${p.leaderEpoch}`;
    return { error: fail(ErrorCode.FENCED_LEADER_EPOCH, msg), p };
  }
  if (req.partitionEpoch !== p.partitionEpoch) {
    const msg = `partition epoch ${req.partitionEpoch} is not the current ${p.partitionEpoch}`;
    return { error: fail(ErrorCode.INVALID_UPDATE_VERSION, msg), p };
  }
  return { p };
}

function isrError(
  state: QuorumControllerState,
  req: AlterPartitionRequest,
  p: PartitionRegistration,
): ResponseBase | null {
  if (new Set(req.isr).size !== req.isr.length)
    return fail(ErrorCode.INVALID_REQUEST, "the ISR repeats a broker");
  if (!req.isr.includes(req.brokerId)) {
    return fail(ErrorCode.INVALID_REQUEST, `the ISR must contain the leader ${req.brokerId}`);
  }
  const eligible = eligibleIn(state.image, new Set());
  const bad = req.isr.find((b) => !p.replicas.includes(b) || !eligible(b));
  if (bad !== undefined) {
    const why = p.replicas.includes(bad) ? "fenced or shutting down" : "not a replica";
    return fail(ErrorCode.INELIGIBLE_REPLICA, `broker ${bad} is ${why}`);
  }
  return null;
}

/**
 * The leader's ISR change. Accepted only when the leader epoch and the partition epoch match
 * the current ones (compare-and-set) and the new ISR holds the leader and only live replicas;
 * replay bumps the partition epoch.
 */
export function alterPartition(
  state: QuorumControllerState,
  req: AlterPartitionRequest,
): ControllerResult<AlterPartitionResponse> {
  const checked = checkRequester(state, req);
  if ("error" in checked)
    return { records: [], response: { ...checked.error, partition: checked.p } };
  const { p } = checked;
  const problem = isrError(state, req, p);
  if (problem !== null) return { records: [], response: { ...problem, partition: p } };
  const unchanged = req.isr.length === p.isr.length && req.isr.every((b, i) => b === p.isr[i]);
  if (unchanged) return { records: [], response: { ...OK, partition: p } };
  // The compare-and-set passed: the change keeps leader ∈ ISR ⊆ replicas.
  assert(p.leader !== null && req.isr.includes(p.leader), "the new ISR holds the leader");
  assert(
    req.isr.every((b) => p.replicas.includes(b)),
    "the new ISR is a subset of the replicas",
  );
  const next: PartitionRegistration = {
    ...p,
    isr: [...req.isr],
    partitionEpoch: partitionEpoch(p.partitionEpoch + 1),
  };
  return {
    records: [
      { type: "partitionChange", topicId: p.topicId, partition: p.partition, isr: [...req.isr] },
    ],
    response: { ...OK, partition: next },
  };
}

/** Moves leadership back to every partition's first replica where it is live and in the ISR. */
export function electPreferredLeaders(
  state: QuorumControllerState,
): ControllerResult<ElectPreferredLeadersResponse> {
  const records = preferredLeaderChanges(state.image);
  return { records, response: { ...OK, moved: records.length } };
}
