/**
 * ControllerClient: promise-returning ControllerService calls for brokers, tools and tests.
 * A call rejects with the gRPC `ServiceError` (status code + details) on transport failures,
 * INVALID_ARGUMENT, or its deadline; Strand error codes come back inside the response.
 */
import * as grpc from "@grpc/grpc-js";
import type {
  AddRaftVoterRequest,
  AddRaftVoterResponse__Output,
  AllocateProducerIdsRequest,
  AllocateProducerIdsResponse__Output,
  AlterConfigsRequest,
  AlterConfigsResponse__Output,
  AlterPartitionRequest,
  AlterPartitionResponse__Output,
  AlterUserScramCredentialRequest,
  AlterUserScramCredentialResponse__Output,
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse__Output,
  ControllerServiceClient,
  CreateAclsRequest,
  CreateAclsResponse__Output,
  CreatePartitionsRequest,
  CreatePartitionsResponse__Output,
  CreateTopicsRequest,
  CreateTopicsResponse__Output,
  DeleteAclsRequest,
  DeleteAclsResponse__Output,
  DeleteTopicsRequest,
  DeleteTopicsResponse__Output,
  DescribeClusterResponse__Output,
  FetchMetadataResponse__Output,
  RegisterBrokerRequest,
  RegisterBrokerResponse__Output,
  RemoveRaftVoterRequest,
  RemoveRaftVoterResponse__Output,
} from "@strand/protocol";
import { controllerClient } from "./grpc.ts";

/** Default deadline of one unary call. */
export const DEFAULT_CALL_TIMEOUT_MS = 5_000;

type Callback<Res> = (error: grpc.ServiceError | null, response?: Res) => void;

/** See the module comment. */
export class ControllerClient {
  /** The address this client talks to. */
  readonly address: string;
  /** The generated client (for streams and options not wrapped here). */
  readonly raw: ControllerServiceClient;
  readonly #timeoutMs: number;

  /** @param credentials - the channel's; insecure unless given (TLS off) */
  constructor(
    address: string,
    timeoutMs = DEFAULT_CALL_TIMEOUT_MS,
    credentials?: grpc.ChannelCredentials,
  ) {
    this.address = address;
    this.raw = controllerClient(address, credentials);
    this.#timeoutMs = timeoutMs;
  }

  #unary<Res>(start: (options: grpc.CallOptions, callback: Callback<Res>) => void): Promise<Res> {
    return new Promise((resolve, reject) => {
      start({ deadline: Date.now() + this.#timeoutMs }, (error, response) => {
        if (error !== null) reject(error);
        else if (response === undefined) reject(new Error("empty gRPC response"));
        else resolve(response);
      });
    });
  }

  /** RegisterBroker. */
  registerBroker(
    r: RegisterBrokerRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<RegisterBrokerResponse__Output> {
    return this.#unary((o, cb) => this.raw.RegisterBroker(r, metadata, o, cb));
  }

  /** BrokerHeartbeat. */
  brokerHeartbeat(
    r: BrokerHeartbeatRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<BrokerHeartbeatResponse__Output> {
    return this.#unary((o, cb) => this.raw.BrokerHeartbeat(r, metadata, o, cb));
  }

  /** CreateTopics. */
  createTopics(
    r: CreateTopicsRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<CreateTopicsResponse__Output> {
    return this.#unary((o, cb) => this.raw.CreateTopics(r, metadata, o, cb));
  }

  /** CreatePartitions. */
  createPartitions(
    r: CreatePartitionsRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<CreatePartitionsResponse__Output> {
    return this.#unary((o, cb) => this.raw.CreatePartitions(r, metadata, o, cb));
  }

  /** DeleteTopics. */
  deleteTopics(
    r: DeleteTopicsRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<DeleteTopicsResponse__Output> {
    return this.#unary((o, cb) => this.raw.DeleteTopics(r, metadata, o, cb));
  }

  /** AlterPartition. */
  alterPartition(
    r: AlterPartitionRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<AlterPartitionResponse__Output> {
    return this.#unary((o, cb) => this.raw.AlterPartition(r, metadata, o, cb));
  }

  /** AllocateProducerIds. */
  allocateProducerIds(
    r: AllocateProducerIdsRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<AllocateProducerIdsResponse__Output> {
    return this.#unary((o, cb) => this.raw.AllocateProducerIds(r, metadata, o, cb));
  }

  /** AlterConfigs. */
  alterConfigs(
    r: AlterConfigsRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<AlterConfigsResponse__Output> {
    return this.#unary((o, cb) => this.raw.AlterConfigs(r, metadata, o, cb));
  }

  /** AlterUserScramCredential. */
  alterUserScramCredential(
    r: AlterUserScramCredentialRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<AlterUserScramCredentialResponse__Output> {
    return this.#unary((o, cb) => this.raw.AlterUserScramCredential(r, metadata, o, cb));
  }

  /** CreateAcls. */
  createAcls(
    r: CreateAclsRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<CreateAclsResponse__Output> {
    return this.#unary((o, cb) => this.raw.CreateAcls(r, metadata, o, cb));
  }

  /** DeleteAcls. */
  deleteAcls(
    r: DeleteAclsRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<DeleteAclsResponse__Output> {
    return this.#unary((o, cb) => this.raw.DeleteAcls(r, metadata, o, cb));
  }

  /** AddRaftVoter (answered by the active controller once the new voter set commits). */
  addRaftVoter(
    r: AddRaftVoterRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<AddRaftVoterResponse__Output> {
    return this.#unary((o, cb) => this.raw.AddRaftVoter(r, metadata, o, cb));
  }

  /** RemoveRaftVoter (answered by the active controller once the new voter set commits). */
  removeRaftVoter(
    r: RemoveRaftVoterRequest,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<RemoveRaftVoterResponse__Output> {
    return this.#unary((o, cb) => this.raw.RemoveRaftVoter(r, metadata, o, cb));
  }

  /** DescribeCluster. */
  describeCluster(): Promise<DescribeClusterResponse__Output> {
    return this.#unary((o, cb) => this.raw.DescribeCluster({}, o, cb));
  }

  /** Opens a FetchMetadata stream after `appliedOffset`; cancel it when done. */
  fetchMetadata(appliedOffset: number): grpc.ClientReadableStream<FetchMetadataResponse__Output> {
    return this.raw.FetchMetadata({ appliedOffset: String(appliedOffset) });
  }

  /** Closes the channel. */
  close(): void {
    this.raw.close();
  }
}
