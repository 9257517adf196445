/**
 * ControllerRouter: calls the active controller through any voter's internal listener,
 * following NOT_CONTROLLER hints (`controller_address`) and rotating through the voters on
 * transport errors, with a bounded number of attempts and a short backoff between them.
 */
import type * as grpc from "@grpc/grpc-js";
import { ControllerClient } from "@strand/controller";
import type {
  AddRaftVoterRequest,
  AddRaftVoterResponse__Output,
  AlterConfigsRequest,
  AlterConfigsResponse__Output,
  AlterPartitionRequest,
  AlterPartitionResponse__Output,
  AlterUserScramCredentialRequest,
  AlterUserScramCredentialResponse__Output,
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse__Output,
  ControllerError__Output,
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
  RegisterBrokerRequest,
  RegisterBrokerResponse__Output,
  RemoveRaftVoterRequest,
  RemoveRaftVoterResponse__Output,
} from "@strand/protocol";
import { ErrorCode } from "@strand/protocol";
import type { ControllerWrites } from "../services/context.ts";

/** Options of {@link ControllerRouter}. */
export interface ControllerRouterOptions {
  /** Voters' internal addresses by node id. */
  readonly voters: ReadonlyMap<number, string>;
  /** Credentials of the channels to the controllers (TLS: node certificate + CA). */
  readonly credentials?: grpc.ChannelCredentials;
  /** Deadline of one call; default 5 000 ms. */
  readonly callTimeoutMs?: number;
  /** Attempts per request before giving up; default 3 per voter + 2. */
  readonly attemptsMax?: number;
  /** Backoff before the next attempt; default 100 ms. */
  readonly backoffMs?: number;
}

type WithError = { readonly error: ControllerError__Output | null };

const RETRYABLE_STATUS = new Set([1, 4, 14]); // CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE

/** See the module comment. */
export class ControllerRouter implements ControllerWrites {
  readonly #voters: ReadonlyMap<number, string>;
  readonly #clients = new Map<string, ControllerClient>();
  readonly #timeoutMs: number;
  readonly #attemptsMax: number;
  readonly #backoffMs: number;
  readonly #credentials: grpc.ChannelCredentials | undefined;
  #current: string;
  #activeId = -1;
  #closed = false;

  constructor(o: ControllerRouterOptions) {
    if (o.voters.size === 0) throw new Error("ControllerRouter needs at least one voter");
    this.#voters = o.voters;
    this.#timeoutMs = o.callTimeoutMs ?? 5_000;
    this.#attemptsMax = o.attemptsMax ?? o.voters.size * 3 + 2;
    this.#backoffMs = o.backoffMs ?? 100;
    this.#credentials = o.credentials;
    this.#current = [...o.voters.values()][0] ?? "";
  }

  /** The active controller's id as last answered, or -1. */
  get activeId(): number {
    return this.#activeId;
  }

  #client(address: string): ControllerClient {
    let c = this.#clients.get(address);
    if (c === undefined) {
      c = new ControllerClient(address, this.#timeoutMs, this.#credentials);
      this.#clients.set(address, c);
    }
    return c;
  }

  #rotate(): void {
    const addresses = [...this.#voters.values()];
    this.#current =
      addresses[(addresses.indexOf(this.#current) + 1) % addresses.length] ?? this.#current;
  }

  /** Sends `call` to the active controller; see the module comment. */
  async call<R extends WithError>(call: (client: ControllerClient) => Promise<R>): Promise<R> {
    let last: R | null = null;
    let lastError: unknown = null;
    for (let attempt = 0; attempt < this.#attemptsMax && !this.#closed; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, this.#backoffMs));
      const address = this.#current;
      try {
        const response = await call(this.#client(address));
        if (response.error?.code !== ErrorCode.NOT_CONTROLLER.code) {
          this.#activeId = [...this.#voters].find(([, a]) => a === address)?.[0] ?? -1;
          return response;
        }
        last = response;
        this.#activeId = -1;
        const hinted = response.error.controllerAddress;
        if (hinted !== "" && hinted !== address) this.#current = hinted;
        else this.#rotate();
      } catch (error) {
        lastError = error;
        if (!RETRYABLE_STATUS.has((error as grpc.ServiceError).code)) throw error;
        this.#rotate();
      }
    }
    if (last !== null) return last;
    throw lastError ?? new Error("the controller router is closed");
  }

  /** RegisterBroker on the active controller. */
  registerBroker(r: RegisterBrokerRequest): Promise<RegisterBrokerResponse__Output> {
    return this.call((c) => c.registerBroker(r));
  }

  /** BrokerHeartbeat on the active controller. */
  brokerHeartbeat(r: BrokerHeartbeatRequest): Promise<BrokerHeartbeatResponse__Output> {
    return this.call((c) => c.brokerHeartbeat(r));
  }

  /** AlterPartition on the active controller. */
  alterPartition(r: AlterPartitionRequest): Promise<AlterPartitionResponse__Output> {
    return this.call((c) => c.alterPartition(r));
  }

  /** CreateTopics on the active controller. */
  createTopics(r: CreateTopicsRequest): Promise<CreateTopicsResponse__Output> {
    return this.call((c) => c.createTopics(r));
  }

  /** DeleteTopics on the active controller. */
  deleteTopics(r: DeleteTopicsRequest): Promise<DeleteTopicsResponse__Output> {
    return this.call((c) => c.deleteTopics(r));
  }

  /** AlterConfigs on the active controller. */
  alterConfigs(r: AlterConfigsRequest): Promise<AlterConfigsResponse__Output> {
    return this.call((c) => c.alterConfigs(r));
  }

  /** AlterUserScramCredential on the active controller. */
  alterUserScramCredential(
    r: AlterUserScramCredentialRequest,
  ): Promise<AlterUserScramCredentialResponse__Output> {
    return this.call((c) => c.alterUserScramCredential(r));
  }

  /** CreateAcls on the active controller. */
  createAcls(r: CreateAclsRequest): Promise<CreateAclsResponse__Output> {
    return this.call((c) => c.createAcls(r));
  }

  /** DeleteAcls on the active controller. */
  deleteAcls(r: DeleteAclsRequest): Promise<DeleteAclsResponse__Output> {
    return this.call((c) => c.deleteAcls(r));
  }

  /** CreatePartitions on the active controller. */
  createPartitions(r: CreatePartitionsRequest): Promise<CreatePartitionsResponse__Output> {
    return this.call((c) => c.createPartitions(r));
  }

  /**
   * DescribeCluster on the active controller when one answered lately (its view has the
   * voters' match indexes), else on whichever voter answers.
   */
  describeQuorum(): Promise<DescribeClusterResponse__Output> {
    return this.call((c) => c.describeCluster());
  }

  /** AddRaftVoter on the active controller. */
  addRaftVoter(r: AddRaftVoterRequest): Promise<AddRaftVoterResponse__Output> {
    return this.call((c) => c.addRaftVoter(r));
  }

  /** RemoveRaftVoter on the active controller. */
  removeRaftVoter(r: RemoveRaftVoterRequest): Promise<RemoveRaftVoterResponse__Output> {
    return this.call((c) => c.removeRaftVoter(r));
  }

  /** Closes every channel; pending calls stop retrying. */
  close(): void {
    this.#closed = true;
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
