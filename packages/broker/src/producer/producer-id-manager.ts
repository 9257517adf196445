/**
 * Producer ids for InitProducerId (Kafka's RPCProducerIdManager): the broker hands out ids from
 * a block it obtained from the active controller (AllocateProducerIds, blocks of 1 000 that the
 * controller never hands out twice), asks for the next block when 90% of the current one is
 * used, and waits for it only when the block is exhausted. Any broker can answer: blocks are
 * disjoint across brokers. Ids are not persisted: a restarted broker asks for a new block.
 */
import { assert } from "@strand/base";
import { ErrorCode, errorCodeInfo } from "@strand/protocol";
import type { InitProducerIdResult, ProducerIdBlockResult } from "../replica/types.ts";

/** Asks the active controller for a block; throws when it cannot be reached. */
export type AllocateProducerIdBlock = () => Promise<ProducerIdBlockResult>;

/** No producer id block can be obtained right now (the controller is unreachable or busy). */
export class ProducerIdsUnavailableError extends Error {
  /** See the class comment. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProducerIdsUnavailableError";
  }
}

/** Fraction of a block used before the next one is requested in the background. */
const PREFETCH_USED_FRACTION = 0.9;
/** Block requests one InitProducerId may wait for before it gives up. */
const ALLOCATIONS_PER_CALL_MAX = 3;
/** Controller answers that mean "retry later or elsewhere", not a refusal of the request. */
const RETRIABLE_CODES: ReadonlySet<number> = new Set([
  ErrorCode.NOT_CONTROLLER.code,
  ErrorCode.STALE_BROKER_EPOCH.code,
  ErrorCode.BROKER_ID_NOT_REGISTERED.code,
]);

/** See the module comment. */
export class ProducerIdManager {
  readonly #allocate: AllocateProducerIdBlock;
  #next = 0n;
  #end = 0n;
  #prefetchAt = 0n;
  /** First id of the newest block seen: a block reaching both a waiter and a prefetch counts once. */
  #newestBlockFirst = -1n;
  #queued: ProducerIdBlockResult | null = null;
  #pending: Promise<ProducerIdBlockResult> | null = null;

  /** Starts with no block: the first call asks the controller. */
  constructor(allocate: AllocateProducerIdBlock) {
    this.#allocate = allocate;
  }

  /** A new producer id with epoch 0; throws ProducerIdsUnavailableError. */
  async initProducerId(): Promise<InitProducerIdResult> {
    for (let attempt = 0; attempt < ALLOCATIONS_PER_CALL_MAX; attempt++) {
      const id = this.#take();
      if (id !== null) return { errorCode: 0, errorMessage: "", producerId: id, producerEpoch: 0 };
      const block = await this.#request();
      if (block.errorCode !== 0 && !RETRIABLE_CODES.has(block.errorCode)) {
        const code = errorCodeInfo(block.errorCode);
        return {
          errorCode: code.code,
          errorMessage: `${code.name}: the controller refused a producer id block: ${block.errorMessage}`,
          producerId: -1n,
          producerEpoch: -1,
        };
      }
      if (block.errorCode !== 0) throw unavailable(block.errorMessage);
      this.#install(block);
    }
    throw unavailable("producer id blocks were used up faster than they arrived");
  }

  /** The next id of the current (or queued) block, or null when both are used up. */
  #take(): bigint | null {
    if (this.#next >= this.#end && this.#queued !== null) {
      const queued = this.#queued;
      this.#queued = null;
      this.#install(queued);
    }
    if (this.#next >= this.#end) return null;
    const id = this.#next;
    this.#next += 1n;
    if (id >= this.#prefetchAt && this.#queued === null) this.#prefetch();
    return id;
  }

  #install(block: ProducerIdBlockResult): void {
    if (block.errorCode !== 0) return;
    assert(
      block.firstProducerId >= 0n && Number.isSafeInteger(block.size) && block.size > 0,
      `bad producer id block ${block.firstProducerId}+${block.size}`,
    );
    // The controller hands out increasing, disjoint blocks: an id at or below the newest
    // block's first id was installed already.
    if (block.firstProducerId <= this.#newestBlockFirst) return;
    this.#newestBlockFirst = block.firstProducerId;
    // A block older than the one in use (a slow prefetch) is still unused ids: keep it queued.
    if (this.#next < this.#end) {
      this.#queued = block;
      return;
    }
    this.#next = block.firstProducerId;
    this.#end = block.firstProducerId + BigInt(block.size);
    this.#prefetchAt =
      block.firstProducerId + BigInt(Math.floor(block.size * PREFETCH_USED_FRACTION));
  }

  #prefetch(): void {
    this.#request().then(
      (block) => {
        if (block.errorCode === 0 && this.#queued === null) this.#install(block);
      },
      () => undefined, // the next call that needs a block asks again and reports the failure
    );
  }

  /** One controller request at a time; concurrent callers share it. */
  #request(): Promise<ProducerIdBlockResult> {
    if (this.#pending !== null) return this.#pending;
    const pending = this.#allocate().then(
      (block) => {
        this.#pending = null;
        return block;
      },
      (error: unknown) => {
        this.#pending = null;
        throw unavailable(error instanceof Error ? error.message : String(error), error);
      },
    );
    this.#pending = pending;
    return pending;
  }
}

function unavailable(detail: string, cause?: unknown): ProducerIdsUnavailableError {
  return new ProducerIdsUnavailableError(
    `no producer id block from the controller right now (${detail}); retry after a short backoff, any broker can answer`,
    cause === undefined ? undefined : { cause },
  );
}
