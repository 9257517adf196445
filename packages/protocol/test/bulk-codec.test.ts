// Goal: the bulk codec (wire/bulk-codec.ts) is protobufjs on the wire and proto-loader in
// JavaScript, for every message of the methods that carry records bytes: for random objects
// it writes the very bytes protobufjs writes, for random protobufjs bytes (plus unknown
// fields) it reads the very object proto-loader reads, records fields come back as subarrays
// of the input, and hostile bytes (truncated, huge lengths, wrong wire types, random bytes)
// throw wherever protobufjs throws, so the broker's lenient definition answers them
// INVALID_ARGUMENT as before.
import type * as protoLoader from "@grpc/proto-loader";
import fc from "fast-check";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import {
  protobufjsPackageDefinition,
  protoDescriptor,
  strandPackageDefinition,
} from "../src/index.ts";
import {
  decodeMessage,
  encodeMessage,
  type MessageSpec,
  messageSpec,
} from "../src/wire/bulk-codec.ts";
import { BULK_METHODS } from "../src/wire/bulk-methods.ts";

const reference = protobufjsPackageDefinition();
const root = protobuf.Root.fromJSON(protoDescriptor);
root.resolveAll();

interface Case {
  readonly type: string;
  readonly spec: MessageSpec;
  readonly serialize: (value: object) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
}

const cases: Case[] = BULK_METHODS.flatMap((path) => {
  const [service, method] = path.split("/") as [string, string];
  const ref = (reference[service] as protoLoader.ServiceDefinition)[
    method
  ] as protoLoader.MethodDefinition<object, object>;
  const reflected = root.lookupService(service).methods[method] as protobuf.Method;
  return [
    {
      type: reflected.resolvedRequestType as protobuf.Type,
      ser: ref.requestSerialize,
      de: ref.requestDeserialize,
    },
    {
      type: reflected.resolvedResponseType as protobuf.Type,
      ser: ref.responseSerialize,
      de: ref.responseDeserialize,
    },
  ].map(({ type, ser, de }) => ({
    type: type.fullName,
    spec: messageSpec(type),
    serialize: ser as (value: object) => Buffer,
    deserialize: de as (bytes: Buffer) => unknown,
  }));
});

const int64 = fc.oneof(
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map(String),
  fc.integer({ min: 0, max: 2 ** 40 }).map(String),
  fc.integer({ min: 0, max: 2 ** 31 }),
  fc.constantFrom("0", "-1", "9223372036854775807", "-9223372036854775808"),
  // Negative safe integers, written without a BigInt (Writer.negativeVarint).
  fc.integer({ min: -(2 ** 53) + 1, max: -1 }),
  fc.integer({ min: -(2 ** 53) + 1, max: -1 }).map(String),
);
const uint64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(String),
  fc.integer({ min: 0, max: 2 ** 31 }),
);

function scalar(field: MessageSpec["fields"][number]): fc.Arbitrary<unknown> {
  switch (field.kind) {
    case "int32":
      return fc.oneof(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 300 }),
      );
    case "uint32":
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case "int64":
      return int64;
    case "uint64":
      return uint64;
    case "bool":
      return fc.boolean();
    case "string":
      return fc.string({ unit: "grapheme", maxLength: 12 });
    case "bytes":
      return fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));
    case "enum":
      return fc.oneof(
        fc.constantFrom(...(field.enumValues?.keys() ?? [])),
        fc.integer({ min: 0, max: 3 }),
      );
    case "message":
      return messageArbitrary(field.message as MessageSpec);
  }
}

const arbitraries = new Map<MessageSpec, fc.Arbitrary<Record<string, unknown>>>();

function messageArbitrary(spec: MessageSpec): fc.Arbitrary<Record<string, unknown>> {
  const cached = arbitraries.get(spec);
  if (cached !== undefined) return cached;
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of spec.fields) {
    const value = scalar(field);
    shape[field.name] = field.repeated ? fc.array(value, { maxLength: 3 }) : value;
  }
  const arbitrary = fc.record(shape, { requiredKeys: [] });
  arbitraries.set(spec, arbitrary);
  return arbitrary;
}

/** Random fields with numbers no message here uses, of every valid wire type. */
const unknownField = fc
  .record({
    id: fc.integer({ min: 100, max: 5000 }),
    kind: fc.constantFrom(0, 1, 2, 5),
    bytes: fc.uint8Array({ maxLength: 20 }),
    varint: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map(({ id, kind, bytes, varint }) => {
    const w = protobuf.Writer.create().uint32((id << 3) | kind);
    if (kind === 0) w.uint64(varint.toString());
    else if (kind === 1) w.fixed64(0);
    else if (kind === 2) w.bytes(bytes);
    else w.fixed32(7);
    return Buffer.from(w.finish());
  });

function outcome(fn: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch {
    return { ok: false };
  }
}

describe.each(cases)("bulk codec: $type", ({ spec, serialize, deserialize }) => {
  const arbitrary = messageArbitrary(spec);

  it("writes the bytes protobufjs writes", () => {
    fc.assert(
      fc.property(arbitrary, (value) => {
        expect(encodeMessage(spec, value)).toEqual(serialize(value));
      }),
      { numRuns: 300 },
    );
  });

  it("reads what proto-loader reads, unknown fields skipped, records as subarrays", () => {
    fc.assert(
      fc.property(arbitrary, fc.array(unknownField, { maxLength: 3 }), (value, unknown) => {
        const bytes = Buffer.concat([serialize(value), ...unknown]);
        const decoded = decodeMessage(spec, bytes);
        expect(decoded).toStrictEqual(deserialize(bytes));
        expect(decodeMessage(spec, serialize(value))).toStrictEqual(decoded);
        for (const records of recordsFields(decoded))
          if (records.length > 0) expect(records.buffer).toBe(bytes.buffer);
      }),
      { numRuns: 300 },
    );
  });

  it("throws wherever protobufjs throws on truncated or mutated bytes, else agrees", () => {
    const mutated = fc
      .tuple(arbitrary, fc.nat(), fc.nat(255), fc.boolean())
      .map(([value, at, byte, truncate]) => {
        const bytes = Buffer.from(serialize(value));
        if (bytes.length === 0) return bytes;
        if (truncate) return bytes.subarray(0, at % bytes.length);
        bytes[at % bytes.length] = byte;
        return bytes;
      });
    fc.assert(
      fc.property(
        fc.oneof(
          mutated,
          fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
        ),
        (bytes) => {
          const ours = outcome(() => decodeMessage(spec, bytes));
          const theirs = outcome(() => deserialize(bytes));
          if (!theirs.ok) expect(ours.ok).toBe(false);
          if (ours.ok)
            expect(ours.value).toStrictEqual(theirs.ok ? theirs.value : "protobufjs threw");
        },
      ),
      { numRuns: 1000 },
    );
  });
});

/** Every `records` buffer in a decoded message, however deep. */
function recordsFields(value: unknown): Buffer[] {
  if (Buffer.isBuffer(value) || typeof value !== "object" || value === null) return [];
  if (Array.isArray(value)) return value.flatMap(recordsFields);
  return Object.entries(value).flatMap(([key, v]) =>
    key === "records" && Buffer.isBuffer(v) ? [v] : recordsFields(v),
  );
}

describe("bulk codec: hostile bytes", () => {
  const produce = messageSpec(root.lookupType("strand.v1.ProduceStreamRequest"));
  // ProduceStreamRequest{request: ProduceRequest{topics: [{partitions: [{records: ...}]}]}}
  const hostile: [string, number[]][] = [
    ["a length of 2^31 - 1", [0x12, 0xff, 0xff, 0xff, 0xff, 0x07]],
    ["a nested length past its parent", [0x12, 0x03, 0x1a, 0x7f, 0x00]],
    ["a truncated varint", [0x08, 0xff]],
    ["an int64 varint of 11 bytes", [0x08, ...Array(10).fill(0xff), 0x01]],
    ["a message field sent as a varint", [0x10, 0x05]],
    ["wire type 7", [0x0f]],
    ["a stray end-group", [0x0c]],
  ];
  it.each(hostile)("%s throws", (_, bytes) => {
    expect(() => decodeMessage(produce, Buffer.from(bytes))).toThrow(RangeError);
  });

  it("is installed for every bulk method, and only those", () => {
    const definition = strandPackageDefinition();
    for (const path of BULK_METHODS) {
      const [service, method] = path.split("/") as [string, string];
      const installed = (definition[service] as protoLoader.ServiceDefinition)[method];
      expect(String(installed?.requestDeserialize)).toContain("decodeMessage");
      expect(String(installed?.responseSerialize)).toContain("encodeMessage");
    }
    const metadata = (definition["strand.v1.MetadataService"] as protoLoader.ServiceDefinition)
      .Metadata;
    expect(String(metadata?.requestSerialize)).not.toContain("encodeMessage");
  });
});
