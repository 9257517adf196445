/**
 * MetadataFollower: the broker side of FetchMetadata. It connects to one controller (any
 * voter), streams the committed metadata log from its applied offset, and replays it into
 * its own immutable {@link MetadataImage} with `applyBatch` (snapshots with `loadSnapshot`).
 * When the stream fails or ends it moves to the next controller after an exponential
 * backoff (reset by progress). Batches must arrive gap-free; anything else is a protocol
 * error and the follower reconnects elsewhere.
 */

import type * as grpc from "@grpc/grpc-js";
import { type Logger, noopLogger } from "@strand/base";
import type {
  ControllerServiceClient,
  FetchMetadataResponse__Output,
  MetadataSnapshotChunk__Output,
} from "@strand/protocol";
import { decodeMetadataBatch } from "../codec.ts";
import { applyBatch, EMPTY_IMAGE, type MetadataDelta, type MetadataImage } from "../image.ts";
import type { MetadataRecord } from "../records.ts";
import { type MetadataOffset, metadataOffset } from "../types.ts";
import { controllerClient } from "./grpc.ts";
import { int64 } from "./wire.ts";

/** A cancellable one-shot timer. */
export interface FollowerTimers {
  setTimeout(fn: () => void, delayMs: number): { cancel(): void };
}

const realTimers: FollowerTimers = {
  setTimeout(fn, delayMs) {
    const t = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(t) };
  },
};

/** Options of {@link MetadataFollower}. */
export interface MetadataFollowerOptions {
  /** Controller addresses (host:port); the follower rotates through them. */
  readonly controllers: readonly string[];
  readonly logger?: Logger;
  /** Credentials of the FetchMetadata channel (TLS: node certificate + CA); default insecure. */
  readonly credentials?: grpc.ChannelCredentials;
  /** First reconnect delay; default 100 ms. */
  readonly backoffMsMin?: number;
  /** Largest reconnect delay; default 2 000 ms. */
  readonly backoffMsMax?: number;
  /** Most snapshot records gathered before a snapshot must end; default 10 000 000. */
  readonly snapshotRecordsMax?: number;
  readonly timers?: FollowerTimers;
}

/** Called with each change: the delta and the image after it. */
export type DeltaListener = (delta: MetadataDelta, image: MetadataImage) => void;

/** See the module comment. */
export class MetadataFollower {
  readonly #controllers: readonly string[];
  readonly #logger: Logger;
  readonly #backoffMin: number;
  readonly #backoffMax: number;
  readonly #snapshotMax: number;
  readonly #timers: FollowerTimers;
  readonly #credentials: grpc.ChannelCredentials | undefined;
  readonly #listeners: DeltaListener[] = [];
  #image: MetadataImage = EMPTY_IMAGE;
  #next = 0;
  #backoffMs: number;
  #client: ControllerServiceClient | null = null;
  #call: grpc.ClientReadableStream<FetchMetadataResponse__Output> | null = null;
  #retry: { cancel(): void } | null = null;
  #snapshot: { offset: number; epoch: number; records: MetadataRecord[] } | null = null;
  #closed = false;
  /** Streams opened so far (for tests and metrics). */
  connects = 0;

  constructor(o: MetadataFollowerOptions) {
    if (o.controllers.length === 0) throw new Error("MetadataFollower needs a controller address");
    this.#controllers = [...o.controllers];
    this.#logger = o.logger ?? noopLogger;
    this.#backoffMin = o.backoffMsMin ?? 100;
    this.#backoffMax = o.backoffMsMax ?? 2_000;
    this.#snapshotMax = o.snapshotRecordsMax ?? 10_000_000;
    this.#timers = o.timers ?? realTimers;
    this.#credentials = o.credentials;
    this.#backoffMs = this.#backoffMin;
    if (!(this.#backoffMin >= 1 && this.#backoffMax >= this.#backoffMin))
      throw new Error("bad backoff bounds");
  }

  /** The image built from the committed log so far. */
  get image(): MetadataImage {
    return this.#image;
  }

  /** The last metadata offset applied (what a broker reports in its heartbeat). */
  get appliedOffset(): MetadataOffset {
    return this.#image.offset;
  }

  /** Calls `listener` after every applied batch or loaded snapshot. */
  onDelta(listener: DeltaListener): void {
    this.#listeners.push(listener);
  }

  /** Starts following (connects to the first controller). */
  start(): void {
    if (this.#call === null && this.#retry === null && !this.#closed) this.#connect();
  }

  /** Stops following and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = null;
    this.#call?.cancel();
    this.#call = null;
    this.#client?.close();
    this.#client = null;
  }

  #connect(): void {
    this.#retry = null;
    if (this.#closed) return;
    const address = this.#controllers[this.#next % this.#controllers.length] ?? "";
    this.#client?.close();
    const client = controllerClient(address, this.#credentials);
    this.#client = client;
    this.#snapshot = null;
    this.connects++;
    const call = client.FetchMetadata({ appliedOffset: String(this.#image.offset) });
    this.#call = call;
    call.on("data", (msg: FetchMetadataResponse__Output) => {
      if (this.#call !== call) return;
      try {
        this.#receive(msg);
      } catch (error) {
        this.#fail(call, address, error);
      }
    });
    call.on("error", (error: Error) => this.#fail(call, address, error));
    call.on("end", () => this.#fail(call, address, new Error("stream ended")));
  }

  #fail(call: grpc.ClientReadableStream<unknown>, address: string, error: unknown): void {
    if (this.#call !== call || this.#closed) return;
    this.#call = null;
    call.cancel();
    this.#logger.warn(
      { controller: address, err: String(error) },
      "metadata stream lost; moving on",
    );
    this.#next++;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#backoffMax);
    this.#retry = this.#timers.setTimeout(() => this.#connect(), delay);
  }

  #receive(msg: FetchMetadataResponse__Output): void {
    if (msg.batch !== null && msg.batch !== undefined) {
      const offset = int64(msg.batch.offset, "batch.offset");
      if (offset !== this.#image.offset + 1)
        throw new Error(`batch at offset ${offset} after ${this.#image.offset}: a gap`);
      const records = msg.batch.records.length === 0 ? [] : decodeMetadataBatch(msg.batch.records);
      const provenance = { offset: metadataOffset(offset), epoch: int64(msg.batch.epoch, "epoch") };
      const { image, delta } = applyBatch(this.#image, records, provenance);
      this.#publish(image, delta);
    } else if (msg.snapshot !== null && msg.snapshot !== undefined) {
      this.#snapshotChunk(msg.snapshot);
    } else {
      throw new Error("a FetchMetadata message with no payload");
    }
  }

  #snapshotChunk(chunk: MetadataSnapshotChunk__Output): void {
    const offset = int64(chunk.offset, "snapshot.offset");
    const epoch = int64(chunk.epoch, "snapshot.epoch");
    if (this.#snapshot !== null && this.#snapshot.offset !== offset)
      throw new Error("snapshot chunks of two snapshots interleaved");
    this.#snapshot ??= { offset, epoch, records: [] };
    this.#snapshot.records.push(...decodeMetadataBatch(chunk.records));
    if (this.#snapshot.records.length > this.#snapshotMax) throw new Error("snapshot too large");
    if (!chunk.last) return;
    const snap = this.#snapshot;
    this.#snapshot = null;
    // The delta of a snapshot is relative to the empty image (delta.base.offset === 0).
    const { image, delta } = applyBatch(EMPTY_IMAGE, snap.records, {
      offset: metadataOffset(snap.offset),
      epoch: snap.epoch,
    });
    this.#logger.info({ offset: snap.offset }, "loaded a metadata snapshot");
    this.#publish(image, delta);
  }

  #publish(image: MetadataImage, delta: MetadataDelta): void {
    this.#image = image;
    this.#backoffMs = this.#backoffMin;
    for (const l of this.#listeners) {
      try {
        l(delta, image);
      } catch (error) {
        this.#logger.warn({ err: error }, "a metadata delta listener threw");
      }
    }
  }
}
