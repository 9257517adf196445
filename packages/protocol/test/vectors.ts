// Loads the Kafka client vectors kept in the repository (test/vectors, see its README).
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Root of the vectors: test/vectors at the repository root. */
export const VECTORS_DIR = fileURLToPath(new URL("../../../test/vectors/", import.meta.url));

/** One record as a vector's `expect` spells it. */
export interface VectorRecord {
  offsetDelta: number;
  timestampDelta: number;
  keyHex: string | null;
  valueHex: string | null;
  headers: { key: string; valueHex: string | null }[];
}

/** One RecordBatch vector file. */
export interface BatchVector {
  name: string;
  hex: string;
  expect: {
    baseOffset: string;
    batchLength: number;
    partitionLeaderEpoch: number;
    magic: number;
    crc: number;
    compression: string;
    transactional: boolean;
    lastOffsetDelta: number;
    baseTimestamp: string;
    maxTimestamp: string;
    producerId: string;
    producerEpoch: number;
    baseSequence: number;
    recordCount: number;
    records: VectorRecord[];
  };
}

/** Every RecordBatch vector, sorted by file name. */
export function loadBatchVectors(): BatchVector[] {
  const dir = `${VECTORS_DIR}recordbatch/`;
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(dir + f, "utf8")) as BatchVector);
}

/** The vector named `name`. */
export function batchVector(name: string): BatchVector {
  const found = loadBatchVectors().find((v) => v.name === name);
  if (found === undefined) throw new Error(`no vector ${name}`);
  return found;
}

/** The vector's bytes. */
export function vectorBytes(v: BatchVector): Buffer {
  return Buffer.from(v.hex, "hex");
}

/** Hex of a nullable buffer, as vectors spell it. */
export function hexOrNull(b: Uint8Array | null): string | null {
  return b === null ? null : Buffer.from(b).toString("hex");
}
