/**
 * AlterPartition for the replica manager: the contract speaks the controller's in-process
 * request/response types; the wire speaks protobuf. Converted here, ranges asserted.
 */
import {
  type AlterPartitionRequest,
  type AlterPartitionResponse,
  brokerId,
  leaderEpoch,
  partitionEpoch,
  topicId,
} from "@strand/controller";
import type { AlterPartitionResponse__Output } from "@strand/protocol";
import { errorCodeInfo } from "@strand/protocol";
import type { ControllerRouter } from "./controllers.ts";

/** Sends `request` to the active controller and converts the answer back. */
export async function alterPartitionVia(
  router: ControllerRouter,
  request: AlterPartitionRequest,
): Promise<AlterPartitionResponse> {
  const wire = await router.alterPartition({
    brokerId: request.brokerId,
    brokerEpoch: String(request.brokerEpoch),
    topicId: request.topicId,
    partition: request.partition,
    leaderEpoch: request.leaderEpoch,
    partitionEpoch: request.partitionEpoch,
    isr: [...request.isr],
  });
  return alterPartitionFromWire(wire);
}

/** Wire AlterPartitionResponse -> the controller's in-process response. */
export function alterPartitionFromWire(
  wire: AlterPartitionResponse__Output,
): AlterPartitionResponse {
  const code = wire.error?.code ?? 0;
  const p = wire.partition;
  return {
    errorCode: errorCodeInfo(code),
    errorMessage: code === 0 ? null : (wire.error?.message ?? ""),
    partition:
      p === null || p === undefined
        ? null
        : {
            topicId: topicId(p.topicId),
            partition: p.partition,
            replicas: p.replicas.map(brokerId),
            isr: p.isr.map(brokerId),
            leader: p.leader < 0 ? null : brokerId(p.leader),
            leaderEpoch: leaderEpoch(p.leaderEpoch),
            partitionEpoch: partitionEpoch(p.partitionEpoch),
          },
  };
}
