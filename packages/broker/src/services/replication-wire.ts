/**
 * The internal `strand.v1.ReplicationService` (from the wire module's one package definition)
 * and the conversions between its messages and the
 * domain types of replica/replica-fetch.ts (int64s travel as decimal strings).
 */
import * as grpc from "@grpc/grpc-js";
import type {
  ReplicaFetchPartitionResult__Output,
  ReplicaFetchRequest,
  ReplicaFetchRequest__Output,
  ReplicaFetchResponse,
  ReplicaFetchResponse__Output,
  ReplicationServiceClient,
} from "@strand/protocol";
import { internalChannelOptions, strandGrpc } from "@strand/protocol";
import type {
  ReplicaFetchAnswer,
  ReplicaFetchPartitionAnswer,
  ReplicaFetchQuery,
} from "../replica/replica-fetch.ts";

/** The ReplicationService definition to register on the internal `grpc.Server`. */
export function replicationServiceDefinition(): grpc.ServiceDefinition {
  return strandGrpc().strand.v1.ReplicationService.service;
}

/** A ReplicationService client for `address` (host:port). */
export function replicationClient(
  address: string,
  receiveBytesMax: number,
  credentials: grpc.ChannelCredentials | undefined = grpc.credentials.createInsecure(),
): ReplicationServiceClient {
  return new (strandGrpc().strand.v1.ReplicationService)(
    address,
    credentials,
    internalChannelOptions(receiveBytesMax),
  );
}

/** An int64 from the wire (proto-loader gives a decimal string), or null when malformed. */
export function int64FromWire(value: string | number | undefined): bigint | null {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : null;
  if (typeof value !== "string" || !/^-?\d{1,19}$/.test(value)) return null;
  return BigInt(value);
}

/** A follower's request as the leader wing takes it; malformed int64s become null. */
export function queryFromWire(request: ReplicaFetchRequest__Output): ReplicaFetchQuery {
  return {
    correlationId: request.correlationId,
    replicaId: request.replicaId,
    brokerEpoch: int64FromWire(request.brokerEpoch),
    maxWaitMs: request.maxWaitMs,
    minBytes: request.minBytes,
    maxBytes: request.maxBytes,
    partitions: request.partitions.map((p) => ({
      topicId: p.topicId,
      topic: p.topic,
      partition: p.partition,
      fetchOffset: int64FromWire(p.fetchOffset),
      lastFetchedEpoch: p.lastFetchedEpoch,
      currentLeaderEpoch: p.currentLeaderEpoch,
      logStartOffset: int64FromWire(p.logStartOffset),
      partitionMaxBytes: p.partitionMaxBytes,
    })),
    incremental: request.incremental,
    forgotten: request.forgotten.map((f) => ({ topic: f.topic, partition: f.partition })),
  };
}

/** The follower wing's request on the wire (int64s as decimal strings). */
export function queryToWire(query: ReplicaFetchQuery): ReplicaFetchRequest {
  return {
    correlationId: query.correlationId,
    replicaId: query.replicaId,
    brokerEpoch: query.brokerEpoch?.toString(),
    maxWaitMs: query.maxWaitMs,
    minBytes: query.minBytes,
    maxBytes: query.maxBytes,
    partitions: query.partitions.map((p) => ({
      topicId: p.topicId,
      topic: p.topic,
      partition: p.partition,
      fetchOffset: p.fetchOffset?.toString(),
      lastFetchedEpoch: p.lastFetchedEpoch,
      currentLeaderEpoch: p.currentLeaderEpoch,
      logStartOffset: p.logStartOffset?.toString(),
      partitionMaxBytes: p.partitionMaxBytes,
    })),
    incremental: query.incremental ?? false,
    forgotten: query.forgotten?.map((f) => ({ topic: f.topic, partition: f.partition })) ?? [],
  };
}

/** The leader wing's answer on the wire; absent offsets stay absent. */
export function answerToWire(answer: ReplicaFetchAnswer): ReplicaFetchResponse {
  return {
    correlationId: answer.correlationId,
    errorCode: answer.errorCode,
    errorMessage: answer.errorMessage,
    partitions: answer.partitions.map((p) => ({
      topicId: p.topicId,
      partition: p.partition,
      errorCode: p.errorCode,
      errorMessage: p.errorMessage,
      highWatermark: p.highWatermark?.toString(),
      logStartOffset: p.logStartOffset?.toString(),
      logEndOffset: p.logEndOffset?.toString(),
      leaderEpoch: p.leaderEpoch,
      records: p.records,
      divergingEpoch:
        p.divergingEpoch === undefined
          ? undefined
          : { epoch: p.divergingEpoch.epoch, endOffset: p.divergingEpoch.endOffset.toString() },
    })),
  };
}

/** An answer as the follower wing takes it; malformed int64s are left out. */
export function answerFromWire(response: ReplicaFetchResponse__Output): ReplicaFetchAnswer {
  return {
    correlationId: response.correlationId,
    errorCode: response.errorCode,
    errorMessage: response.errorMessage,
    partitions: response.partitions.map(partitionAnswerFromWire),
  };
}

function partitionAnswerFromWire(
  result: ReplicaFetchPartitionResult__Output,
): ReplicaFetchPartitionAnswer {
  const diverging = result.divergingEpoch;
  const divergingEnd = diverging == null ? null : int64FromWire(diverging.endOffset);
  return {
    topicId: result.topicId,
    partition: result.partition,
    errorCode: result.errorCode,
    errorMessage: result.errorMessage,
    highWatermark: int64FromWire(result.highWatermark) ?? undefined,
    logStartOffset: int64FromWire(result.logStartOffset) ?? undefined,
    logEndOffset: int64FromWire(result.logEndOffset) ?? undefined,
    leaderEpoch: result.leaderEpoch,
    records: result.records,
    divergingEpoch:
      diverging == null || divergingEnd === null
        ? undefined
        : { epoch: diverging.epoch, endOffset: divergingEnd },
  };
}
