/**
 * AllocateProducerIds for the producer id manager: the contract speaks bigint and Strand
 * error codes; the wire speaks protobuf through the node's controller router.
 */

import { assert } from "@strand/base";
import type { ControllerClient } from "@strand/controller";
import type {
  AllocateProducerIdsResponse__Output,
  ControllerError__Output,
} from "@strand/protocol";
import type { ProducerIdBlockResult } from "../replica/types.ts";

/** What is used of the node's ControllerRouter: a call on the active controller. */
export interface ActiveControllerCaller {
  call<R extends { readonly error: ControllerError__Output | null }>(
    call: (client: ControllerClient) => Promise<R>,
  ): Promise<R>;
}

/** `ReplicaManagerDeps.allocateProducerIds` over a controller router. */
export function allocateProducerIdsVia(
  router: ActiveControllerCaller,
): (request: {
  readonly brokerId: number;
  readonly brokerEpoch: number;
}) => Promise<ProducerIdBlockResult> {
  return async (request) => {
    const wire: AllocateProducerIdsResponse__Output = await router.call((c) =>
      c.allocateProducerIds({
        brokerId: request.brokerId,
        brokerEpoch: String(request.brokerEpoch),
      }),
    );
    const code = wire.error?.code ?? 0;
    if (code !== 0) {
      return {
        errorCode: code,
        errorMessage: wire.error?.message ?? "",
        firstProducerId: -1n,
        size: 0,
      };
    }
    const first = BigInt(wire.firstProducerId);
    assert(first >= 0n && wire.size > 0, `controller sent block ${first}+${wire.size}`);
    return { errorCode: 0, errorMessage: "", firstProducerId: first, size: wire.size };
  };
}
