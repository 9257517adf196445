/**
 * The ControllerService handlers (proto/strand/v1/controller.proto). Writes go through
 * `Controller.handle`, which answers NOT_CONTROLLER on a node that is not active; this layer
 * adds the active controller's id and address to that answer. Input is validated by wire.ts;
 * a malformed request gets gRPC INVALID_ARGUMENT, an unexpected failure INTERNAL (and a log
 * line), never a crash. FetchMetadata streams the committed log (see {@link streamMetadata}).
 */

import * as grpc from "@grpc/grpc-js";
import type { Logger } from "@strand/base";
import type {
  AddRaftVoterRequest__Output,
  AddRaftVoterResponse,
  AllocateProducerIdsRequest__Output,
  AllocateProducerIdsResponse,
  AlterConfigsRequest__Output,
  AlterConfigsResponse,
  AlterPartitionRequest__Output,
  AlterPartitionResponse,
  AlterUserScramCredentialRequest__Output,
  AlterUserScramCredentialResponse,
  BrokerHeartbeatRequest__Output,
  BrokerHeartbeatResponse,
  ControllerError,
  CreateAclsRequest__Output,
  CreateAclsResponse,
  CreatePartitionsRequest__Output,
  CreatePartitionsResponse,
  CreateTopicsRequest__Output,
  CreateTopicsResponse,
  DeleteAclsRequest__Output,
  DeleteAclsResponse,
  DeleteTopicsRequest__Output,
  DeleteTopicsResponse,
  DescribeClusterResponse,
  RegisterBrokerRequest__Output,
  RegisterBrokerResponse,
  RemoveRaftVoterRequest__Output,
  RemoveRaftVoterResponse,
} from "@strand/protocol";
import { ErrorCode, FORWARDED_BY_HEADER } from "@strand/protocol";
import type { Controller } from "../controller.ts";
import { aclToWire, createAclsFromWire, deleteAclsFromWire } from "./acl-wire.ts";
import type { ControllerClient } from "./client.ts";
import { checkPeer, logRefusal } from "./peer-check.ts";
import { fail, type MetadataSource, streamMetadata } from "./stream.ts";
import { type VoterChangeOutcome, type VoterEndpoint, voterFromWire } from "./voters.ts";
import {
  allocateProducerIdsFromWire,
  alterConfigsFromWire,
  alterPartitionFromWire,
  alterUserScramCredentialFromWire,
  type ControllerHint,
  createPartitionsFromWire,
  createTopicFromWire,
  heartbeatFromWire,
  InvalidArgumentError,
  list,
  partitionToWire,
  registerBrokerFromWire,
  responseError,
  str,
} from "./wire.ts";

/** What the handlers need from the node. */
export interface ServiceHost extends MetadataSource {
  readonly controller: Controller;
  readonly logger: Logger;
  /** The injected clock. */
  nowMs(): number;
  /** Where NOT_CONTROLLER answers send the caller. */
  hint(): ControllerHint;
  /** The DescribeCluster answer. */
  describe(): DescribeClusterResponse;
  /** This node's id (marks forwarded requests). */
  readonly nodeId: number;
  /** A client of the active controller when this standby forwards writes, else null. */
  forwardTarget(): ControllerClient | null;
  /** AddRaftVoter on this node (NOT_CONTROLLER unless it is the active controller). */
  addVoter(v: VoterEndpoint): Promise<VoterChangeOutcome>;
  /** RemoveRaftVoter on this node (NOT_CONTROLLER unless it is the active controller). */
  removeVoter(v: VoterEndpoint): Promise<VoterChangeOutcome>;
}

type Handler<Req, Res> = (request: Req, metadata: grpc.Metadata) => Promise<Res>;
type Remote<Req, Res> = (target: ControllerClient, request: Req, md: grpc.Metadata) => Promise<Res>;

// A request a standby forwarded carries FORWARDED_BY_HEADER and is not forwarded again.
export { FORWARDED_BY_HEADER };

/** The broker id a request claims to come from (null: it names none). */
type Claim<Req> = (request: Req) => number | null;

/** Requests that say which broker sends them. */
const byBroker = (r: { readonly brokerId: number }): number => r.brokerId;

/**
 * Wraps a handler: the caller's identity is checked first (TLS: a node, as itself, see
 * peer-check.ts); validation errors become INVALID_ARGUMENT, anything else INTERNAL.
 */
function unary<Req, Res>(
  host: ServiceHost,
  name: string,
  fn: Handler<Req, Res>,
  claim: Claim<Req> = () => null,
) {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>): void => {
    const refusal = checkPeer(call, name, claim(call.request));
    if (refusal !== null) {
      logRefusal(host.logger, name, call.getPeer(), refusal.details);
      callback(refusal);
      return;
    }
    fn(call.request, call.metadata).then(
      (response) => callback(null, response),
      (error: unknown) => {
        if (error instanceof InvalidArgumentError) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `${name}: ${error.message}` });
          return;
        }
        host.logger.error({ err: error, rpc: name }, "controller RPC failed");
        callback({
          code: grpc.status.INTERNAL,
          details: `${name} failed on the server: ${String(error)}; retry, and report it if it persists`,
        });
      },
    );
  };
}

/**
 * A write RPC: handled here on the active controller; on a standby with forwarding on, sent
 * once to the active controller (and its answer relayed). If forwarding fails, the local
 * handler answers (NOT_CONTROLLER with the hint), so the caller can retry there itself.
 */
function write<Req, Res>(
  host: ServiceHost,
  name: string,
  local: (r: Req) => Promise<Res>,
  remote: Remote<Req, Res>,
  claim?: Claim<Req>,
) {
  return unary(
    host,
    name,
    async (request: Req, metadata: grpc.Metadata) => {
      const forwarded = metadata.get(FORWARDED_BY_HEADER).length > 0;
      const target = host.controller.isActive || forwarded ? null : host.forwardTarget();
      if (target !== null) {
        const md = new grpc.Metadata();
        md.set(FORWARDED_BY_HEADER, String(host.nodeId));
        try {
          return await remote(target, request, md);
        } catch (error) {
          host.logger.debug(
            { rpc: name, to: target.address, err: String(error) },
            "forwarding failed",
          );
        }
      }
      return local(request);
    },
    claim,
  );
}

function notActive(host: ServiceHost): ControllerError | null {
  if (host.controller.isActive) return null;
  return responseError(
    { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: "this node is not the active controller" },
    host.hint(),
  );
}

async function createTopics(
  host: ServiceHost,
  r: CreateTopicsRequest__Output,
): Promise<CreateTopicsResponse> {
  const requests = list<CreateTopicsRequest__Output["topics"][number]>(r.topics, "topics").map(
    (t) => createTopicFromWire(t, r.validateOnly === true),
  );
  const error = notActive(host);
  const now = host.nowMs();
  const results = await Promise.all(requests.map((q) => host.controller.handle(q, now)));
  return {
    error: error ?? { code: 0 },
    topics: results.map((res, k) => ({
      name: requests[k]?.name ?? "",
      error: responseError(res, host.hint()),
      topicId: res.topicId ?? "",
      assignments: res.assignments.map((a) => ({ brokerIds: [...a] })),
    })),
  };
}

async function createPartitions(
  host: ServiceHost,
  r: CreatePartitionsRequest__Output,
): Promise<CreatePartitionsResponse> {
  const requests = list<CreatePartitionsRequest__Output["topics"][number]>(r.topics, "topics").map(
    (t) => createPartitionsFromWire(t, r.validateOnly === true),
  );
  const error = notActive(host);
  const now = host.nowMs();
  const results = await Promise.all(requests.map((q) => host.controller.handle(q, now)));
  return {
    error: error ?? { code: 0 },
    topics: results.map((res, k) => ({
      name: requests[k]?.name ?? "",
      error: responseError(res, host.hint()),
      assignments: res.assignments.map((a) => ({ brokerIds: [...a] })),
    })),
  };
}

async function deleteTopics(
  host: ServiceHost,
  r: DeleteTopicsRequest__Output,
): Promise<DeleteTopicsResponse> {
  const names = list<unknown>(r.names, "names").map((n, k) => str(n, `names[${k}]`));
  const error = notActive(host);
  const now = host.nowMs();
  const results = await Promise.all(
    names.map((name) => host.controller.handle({ type: "deleteTopic", name }, now)),
  );
  return {
    error: error ?? { code: 0 },
    topics: results.map((res, k) => ({
      name: names[k] ?? "",
      error: responseError(res, host.hint()),
      topicId: res.topicId ?? "",
    })),
  };
}

async function registerBroker(
  host: ServiceHost,
  r: RegisterBrokerRequest__Output,
): Promise<RegisterBrokerResponse> {
  const res = await host.controller.handle(registerBrokerFromWire(r), host.nowMs());
  return { error: responseError(res, host.hint()), brokerEpoch: String(res.brokerEpoch ?? 0) };
}

async function heartbeat(
  host: ServiceHost,
  r: BrokerHeartbeatRequest__Output,
): Promise<BrokerHeartbeatResponse> {
  const res = await host.controller.handle(heartbeatFromWire(r), host.nowMs());
  return {
    error: responseError(res, host.hint()),
    isCaughtUp: res.isCaughtUp,
    isFenced: res.isFenced,
    shouldShutdown: res.shouldShutdown,
  };
}

async function alterPartition(
  host: ServiceHost,
  r: AlterPartitionRequest__Output,
): Promise<AlterPartitionResponse> {
  const res = await host.controller.handle(alterPartitionFromWire(r), host.nowMs());
  return {
    error: responseError(res, host.hint()),
    ...(res.partition === null ? {} : { partition: partitionToWire(res.partition) }),
  };
}

async function allocateProducerIds(
  host: ServiceHost,
  r: AllocateProducerIdsRequest__Output,
): Promise<AllocateProducerIdsResponse> {
  const res = await host.controller.handle(allocateProducerIdsFromWire(r), host.nowMs());
  return {
    error: responseError(res, host.hint()),
    firstProducerId: res.firstProducerId.toString(),
    size: res.size,
  };
}

async function alterConfigs(
  host: ServiceHost,
  r: AlterConfigsRequest__Output,
): Promise<AlterConfigsResponse> {
  const res = await host.controller.handle(alterConfigsFromWire(r), host.nowMs());
  return { error: responseError(res, host.hint()) };
}

async function alterUserScramCredential(
  host: ServiceHost,
  r: AlterUserScramCredentialRequest__Output,
): Promise<AlterUserScramCredentialResponse> {
  const res = await host.controller.handle(alterUserScramCredentialFromWire(r), host.nowMs());
  return { error: responseError(res, host.hint()) };
}

async function createAcls(
  host: ServiceHost,
  r: CreateAclsRequest__Output,
): Promise<CreateAclsResponse> {
  const res = await host.controller.handle(createAclsFromWire(r), host.nowMs());
  const error = responseError(res, host.hint());
  return { error, results: res.ids.map((id) => ({ error: { code: 0 }, id })) };
}

async function deleteAcls(
  host: ServiceHost,
  r: DeleteAclsRequest__Output,
): Promise<DeleteAclsResponse> {
  const res = await host.controller.handle(deleteAclsFromWire(r), host.nowMs());
  return {
    error: responseError(res, host.hint()),
    results: res.removed.map((acls) => ({ error: { code: 0 }, removed: acls.map(aclToWire) })),
  };
}

async function addRaftVoter(
  host: ServiceHost,
  r: AddRaftVoterRequest__Output,
): Promise<AddRaftVoterResponse> {
  const v = voterFromWire(r.nodeId, r.directoryId, r.address);
  return { error: responseError(await host.addVoter(v), host.hint()) };
}

async function removeRaftVoter(
  host: ServiceHost,
  r: RemoveRaftVoterRequest__Output,
): Promise<RemoveRaftVoterResponse> {
  const v = voterFromWire(r.nodeId, r.directoryId);
  return { error: responseError(await host.removeVoter(v), host.hint()) };
}

/** The ControllerService implementation for a `grpc.Server`. */
export function controllerServiceHandlers(host: ServiceHost): grpc.UntypedServiceImplementation {
  return {
    RegisterBroker: write(
      host,
      "RegisterBroker",
      (r: RegisterBrokerRequest__Output) => registerBroker(host, r),
      (c, r, md) => c.registerBroker(r, md),
      byBroker,
    ),
    BrokerHeartbeat: write(
      host,
      "BrokerHeartbeat",
      (r: BrokerHeartbeatRequest__Output) => heartbeat(host, r),
      (c, r, md) => c.brokerHeartbeat(r, md),
      byBroker,
    ),
    CreateTopics: write(
      host,
      "CreateTopics",
      (r: CreateTopicsRequest__Output) => createTopics(host, r),
      (c, r, md) => c.createTopics(r, md),
    ),
    CreatePartitions: write(
      host,
      "CreatePartitions",
      (r: CreatePartitionsRequest__Output) => createPartitions(host, r),
      (c, r, md) => c.createPartitions(r, md),
    ),
    DeleteTopics: write(
      host,
      "DeleteTopics",
      (r: DeleteTopicsRequest__Output) => deleteTopics(host, r),
      (c, r, md) => c.deleteTopics(r, md),
    ),
    AlterPartition: write(
      host,
      "AlterPartition",
      (r: AlterPartitionRequest__Output) => alterPartition(host, r),
      (c, r, md) => c.alterPartition(r, md),
      byBroker,
    ),
    AllocateProducerIds: write(
      host,
      "AllocateProducerIds",
      (r: AllocateProducerIdsRequest__Output) => allocateProducerIds(host, r),
      (c, r, md) => c.allocateProducerIds(r, md),
      byBroker,
    ),
    AlterConfigs: write(
      host,
      "AlterConfigs",
      (r: AlterConfigsRequest__Output) => alterConfigs(host, r),
      (c, r, md) => c.alterConfigs(r, md),
    ),
    AlterUserScramCredential: write(
      host,
      "AlterUserScramCredential",
      (r: AlterUserScramCredentialRequest__Output) => alterUserScramCredential(host, r),
      (c, r, md) => c.alterUserScramCredential(r, md),
    ),
    AddRaftVoter: write(
      host,
      "AddRaftVoter",
      (r: AddRaftVoterRequest__Output) => addRaftVoter(host, r),
      (c, r, md) => c.addRaftVoter(r, md),
    ),
    RemoveRaftVoter: write(
      host,
      "RemoveRaftVoter",
      (r: RemoveRaftVoterRequest__Output) => removeRaftVoter(host, r),
      (c, r, md) => c.removeRaftVoter(r, md),
    ),
    CreateAcls: write(
      host,
      "CreateAcls",
      (r: CreateAclsRequest__Output) => createAcls(host, r),
      (c, r, md) => c.createAcls(r, md),
    ),
    DeleteAcls: write(
      host,
      "DeleteAcls",
      (r: DeleteAclsRequest__Output) => deleteAcls(host, r),
      (c, r, md) => c.deleteAcls(r, md),
    ),
    DescribeCluster: unary(host, "DescribeCluster", async () => host.describe()),
    FetchMetadata: (call: Parameters<typeof streamMetadata>[1]) => {
      const refusal = checkPeer(call, "FetchMetadata", null);
      if (refusal !== null) {
        logRefusal(host.logger, "FetchMetadata", call.getPeer(), refusal.details);
        fail(call, refusal.code, refusal.details);
        return;
      }
      streamMetadata(host, call).catch((error: unknown) => {
        host.logger.error({ err: error }, "FetchMetadata stream failed");
        fail(call, grpc.status.INTERNAL, `FetchMetadata failed on the server: ${String(error)}`);
      });
    },
  };
}
