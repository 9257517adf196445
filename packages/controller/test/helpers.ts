// Test helpers: a synchronous cluster around the pure handlers (every proposed batch commits
// at once), a seeded PRNG, and shorthands for brokers and requests.
import { expect } from "vitest";
import { expireSessions } from "../src/brokers.ts";
import { handleRequest, type ResultOf } from "../src/handle.ts";
import {
  applyBatch,
  EMPTY_IMAGE,
  type MetadataImage,
  type PartitionRegistration,
} from "../src/image.ts";
import { imageViolations } from "../src/queries.ts";
import type { MetadataRecord } from "../src/records.ts";
import {
  type BrokerSessions,
  type ControllerConfig,
  type ControllerRequest,
  DEFAULT_CONTROLLER_CONFIG,
  type QuorumControllerState,
} from "../src/requests.ts";
import { type BrokerEpoch, type BrokerId, brokerId, metadataOffset } from "../src/types.ts";

/** One committed batch of the simulated metadata log. */
export interface LoggedBatch {
  readonly offset: number;
  readonly records: readonly MetadataRecord[];
}

/** The pure controller driven synchronously: proposals commit immediately. */
export class TestCluster {
  image: MetadataImage = EMPTY_IMAGE;
  sessions: BrokerSessions = new Map();
  readonly log: LoggedBatch[] = [];
  readonly config: ControllerConfig;

  constructor(config: Partial<ControllerConfig> = {}) {
    this.config = { ...DEFAULT_CONTROLLER_CONFIG, ...config };
  }

  state(): QuorumControllerState {
    return {
      image: this.image,
      committedOffset: this.image.offset,
      sessions: this.sessions,
      config: this.config,
    };
  }

  /** Handles a request and commits its records as one batch. */
  run<R extends ControllerRequest>(req: R, nowMs: number): ResultOf<R["type"]> {
    const result = handleRequest(this.state(), req, nowMs);
    if (result.sessions !== undefined) this.sessions = result.sessions;
    this.commit(result.records);
    return result;
  }

  /** Fences expired sessions (one batch). */
  tick(nowMs: number): readonly MetadataRecord[] {
    const result = expireSessions(this.state(), nowMs);
    if (result.sessions !== undefined) this.sessions = result.sessions;
    this.commit(result.records);
    return result.records;
  }

  commit(records: readonly MetadataRecord[]): void {
    if (records.length === 0) return;
    const offset = metadataOffset(this.image.offset + 1);
    this.log.push({ offset, records });
    this.image = applyBatch(this.image, records, { offset, epoch: 1 }).image;
    expect(imageViolations(this.image)).toEqual([]);
  }

  epochOf(id: number): BrokerEpoch {
    const b = this.image.brokers.get(brokerId(id));
    if (b === undefined) throw new Error(`broker ${id} not registered`);
    return b.epoch;
  }

  /** Registers a broker and heartbeats it until unfenced. */
  addBroker(
    id: number,
    nowMs: number,
    rack: string | null = null,
    incarnation = `inc-${id}`,
  ): void {
    const r = this.run(
      {
        type: "registerBroker",
        brokerId: brokerId(id),
        incarnationId: incarnation,
        listeners: [{ name: "internal", host: "127.0.0.1", port: 9093 + id }],
        rack,
      },
      nowMs,
    );
    expect(r.response.errorCode.name).toBe("NONE");
    this.heartbeat(id, nowMs);
  }

  heartbeat(id: number, nowMs: number, opts: { wantFence?: boolean; wantShutdown?: boolean } = {}) {
    return this.run(
      {
        type: "brokerHeartbeat",
        brokerId: brokerId(id),
        brokerEpoch: this.epochOf(id),
        metadataOffset: this.image.offset,
        wantFence: opts.wantFence ?? false,
        wantShutdown: opts.wantShutdown ?? false,
      },
      nowMs,
    );
  }

  createTopic(name: string, partitionCount: number, replicationFactor: number, configs = {}) {
    return this.run({ type: "createTopic", name, partitionCount, replicationFactor, configs }, 0);
  }

  partition(topic: string, partition: number): PartitionRegistration {
    const p = this.image.topicsByName.get(topic)?.partitions.get(partition);
    if (p === undefined) throw new Error(`no partition ${topic}-${partition}`);
    return p;
  }
}

/** Shorthand for a list of broker ids. */
export function ids(...n: number[]): BrokerId[] {
  return n.map(brokerId);
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function prng(seed: number): { next(): number; int(bound: number): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (bound) => Math.floor(next() * bound) };
}
