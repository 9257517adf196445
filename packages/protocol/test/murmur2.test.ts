// Goal: murmur2 and the default partitioner pick exactly the hash and partition Kafka's Java
// client picks for every key in the shared vectors.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { murmur2, partitionForKey } from "../src/index.ts";
import { VECTORS_DIR } from "./vectors.ts";

interface Row {
  keyUtf8: string;
  keyHex: string;
  murmur2: number;
  partitions: Record<string, number>;
}

const rows = (
  JSON.parse(readFileSync(`${VECTORS_DIR}murmur2-partitioner.json`, "utf8")) as { rows: Row[] }
).rows;

describe("murmur2 partitioner vectors", () => {
  it("has vectors", () => {
    expect(rows.length).toBeGreaterThan(5);
  });
  for (const row of rows) {
    it(`key ${JSON.stringify(row.keyUtf8)} (${row.keyHex.length / 2} bytes)`, () => {
      const key = Buffer.from(row.keyHex, "hex");
      expect(murmur2(key)).toBe(row.murmur2);
      for (const [n, partition] of Object.entries(row.partitions)) {
        expect(partitionForKey(key, Number(n))).toBe(partition);
      }
    });
  }
  it("rejects a partition count below 1", () => {
    expect(() => partitionForKey(Buffer.from("a"), 0)).toThrow(RangeError);
  });
});
