/**
 * FetchMetadata, the server side: streams the committed metadata log to a follower from the
 * offset after the one it has applied. When the node no longer holds the batches the caller
 * needs (compacted behind a snapshot, or a restore), it first sends the current committed
 * image as a snapshot, in chunks, then continues with the batches after it. The stream waits
 * for new commits when it is caught up (also when the caller is ahead of this node, which
 * happens after it followed a more up-to-date voter), and honours gRPC flow control.
 */
import * as grpc from "@grpc/grpc-js";
import type { FetchMetadataRequest__Output, FetchMetadataResponse } from "@strand/protocol";
import { encodeMetadataBatch } from "../codec.ts";
import type { MetadataImage } from "../image.ts";
import { imageToRecords } from "../snapshot.ts";
import type { MetadataStateMachine } from "./state-machine.ts";
import { InvalidArgumentError, int64 } from "./wire.ts";

/** Batches written per round before checking flow control again. */
export const STREAM_BATCHES_PER_ROUND_MAX = 256;
/** Records per snapshot chunk (keeps each message far below gRPC's 4 MiB limit). */
export const SNAPSHOT_CHUNK_RECORDS_MAX = 2_000;
/** Concurrent FetchMetadata streams one node serves. */
export const FETCH_STREAMS_MAX = 1_024;

/** What a stream reads from the node. */
export interface MetadataSource {
  readonly machine: MetadataStateMachine;
  /** The committed image (a snapshot's content). */
  committedImage(): MetadataImage;
  /** True once the node is closing: streams end. */
  isClosed(): boolean;
  /** Open streams, for the {@link FETCH_STREAMS_MAX} bound. */
  openStreams: number;
}

type Call = grpc.ServerWritableStream<FetchMetadataRequest__Output, FetchMetadataResponse>;

/** Ends the stream with a gRPC status (grpc-js sends the status of an 'error' event). */
export function fail(call: Call, code: grpc.status, details: string): void {
  call.emit("error", { code, details });
}

/** Sends `image` as snapshot chunks; returns its offset (the stream's new cursor). */
function sendSnapshot(call: Call, image: MetadataImage): number {
  const records = imageToRecords(image);
  const head = { offset: String(image.offset), epoch: String(image.epoch) };
  let k = 0;
  do {
    const chunk = records.slice(k, k + SNAPSHOT_CHUNK_RECORDS_MAX);
    k += SNAPSHOT_CHUNK_RECORDS_MAX;
    call.write({
      snapshot: { ...head, records: encodeMetadataBatch(chunk), last: k >= records.length },
    });
  } while (k < records.length);
  return image.offset;
}

/** Serves one FetchMetadata call until the caller cancels or the node closes. */
export async function streamMetadata(source: MetadataSource, call: Call): Promise<void> {
  let cursor: number;
  try {
    cursor = int64(call.request?.appliedOffset, "applied_offset");
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    fail(call, grpc.status.INVALID_ARGUMENT, `FetchMetadata: ${error.message}`);
    return;
  }
  if (source.openStreams >= FETCH_STREAMS_MAX) {
    const details = `more than ${FETCH_STREAMS_MAX} metadata streams; retry later or on another controller`;
    fail(call, grpc.status.RESOURCE_EXHAUSTED, details);
    return;
  }
  source.openStreams++;
  let open = true;
  const stop = (): void => {
    open = false;
    source.machine.wakeAll();
  };
  call.on("cancelled", stop);
  call.on("error", stop);
  call.on("close", stop);
  try {
    await pump(source, call, cursor, () => open && !source.isClosed());
  } finally {
    source.openStreams--;
  }
  if (!call.destroyed) call.end();
}

async function pump(source: MetadataSource, call: Call, from: number, live: () => boolean) {
  let cursor = from;
  while (live()) {
    const batches = source.machine.batchesAfter(cursor, STREAM_BATCHES_PER_ROUND_MAX);
    if (batches === null) {
      cursor = sendSnapshot(call, source.committedImage());
      continue;
    }
    if (batches.length === 0) {
      await source.machine.changed();
      continue;
    }
    let writable = true;
    for (const b of batches) {
      const batch = { offset: String(b.offset), epoch: String(b.epoch), records: b.bytes };
      writable = call.write({ batch });
      cursor = b.offset;
    }
    if (!writable) await drained(call, live);
  }
}

/** Resolves when the stream can take more, or it is closed. */
function drained(call: Call, live: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (!live()) {
      resolve();
      return;
    }
    const done = (): void => {
      call.off("drain", done);
      call.off("close", done);
      resolve();
    };
    call.on("drain", done);
    call.on("close", done);
  });
}
