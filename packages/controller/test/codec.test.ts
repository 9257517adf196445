// Goal: every metadata record type survives encode -> decode unchanged (alone and in a
// batch), optional fields keep "absent" apart from "empty"/"none", int64 values keep their
// full range, and records from a newer version or garbage bytes are refused with typed errors.
import { ErrorCode, protoDescriptor } from "@strand/protocol";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { type AclBinding, aclId } from "../src/acls.ts";
import {
  decodeMetadataBatch,
  decodeMetadataRecord,
  encodeMetadataBatch,
  encodeMetadataRecord,
  MetadataRecordError,
} from "../src/codec.ts";
import { type MetadataRecord, type MetadataRecordType, RECORD_VERSIONS } from "../src/records.ts";
import { brokerEpoch, brokerId, leaderEpoch, partitionEpoch, topicId } from "../src/types.ts";
import { ids } from "./helpers.ts";

const SAMPLE_ACL: AclBinding = {
  principal: "User:alice",
  host: "*",
  resourceType: "topic",
  patternType: "prefixed",
  resourceName: "orders.",
  operation: "write",
  permission: "allow",
};
const T1 = topicId("8f0e4c52-3a6b-4f1d-9c2e-5b7a1d3e9f00");

const samples: MetadataRecord[] = [
  {
    type: "registerBroker",
    brokerId: brokerId(1),
    incarnationId: "a7d2c1f0-0000-4000-8000-000000000001",
    listeners: [
      { name: "client", host: "10.0.0.1", port: 9092 },
      { name: "internal", host: "10.0.0.1", port: 9093 },
    ],
    rack: "eu-west-1a",
    fenced: true,
    brokerEpoch: null,
    inControlledShutdown: false,
  },
  {
    type: "registerBroker",
    brokerId: brokerId(2),
    incarnationId: "x",
    listeners: [],
    rack: null,
    fenced: false,
    brokerEpoch: brokerEpoch(2 ** 40),
    inControlledShutdown: true,
  },
  { type: "unregisterBroker", brokerId: brokerId(3), brokerEpoch: brokerEpoch(17) },
  { type: "fenceBroker", brokerId: brokerId(4), brokerEpoch: brokerEpoch(0) },
  { type: "unfenceBroker", brokerId: brokerId(5), brokerEpoch: brokerEpoch(99) },
  { type: "brokerControlledShutdown", brokerId: brokerId(6), brokerEpoch: brokerEpoch(7) },
  { type: "topic", name: "orders", topicId: T1 },
  {
    type: "partition",
    topicId: T1,
    partition: 3,
    replicas: ids(1, 2, 3),
    isr: ids(1, 2),
    leader: brokerId(1),
    leaderEpoch: leaderEpoch(4),
    partitionEpoch: partitionEpoch(9),
  },
  {
    type: "partition",
    topicId: T1,
    partition: 0,
    replicas: ids(1),
    isr: ids(1),
    leader: null,
    leaderEpoch: leaderEpoch(0),
    partitionEpoch: partitionEpoch(0),
  },
  { type: "partitionChange", topicId: T1, partition: 0 },
  { type: "partitionChange", topicId: T1, partition: 1, leader: null },
  { type: "partitionChange", topicId: T1, partition: 2, leader: brokerId(0), isr: [] },
  { type: "partitionChange", topicId: T1, partition: 2, isr: ids(2, 1), replicas: ids(1, 2) },
  { type: "removeTopic", topicId: T1 },
  {
    type: "config",
    resource: { type: "topic", name: "orders" },
    key: "retention.ms",
    value: "1000",
  },
  { type: "config", resource: { type: "cluster", name: "" }, key: "retention.ms", value: null },
  { type: "config", resource: { type: "broker", name: "3" }, key: "k", value: "" },
  { type: "featureLevel", name: "metadata.version", level: 1 },
  {
    type: "producerIdsBlock",
    brokerId: brokerId(2),
    brokerEpoch: brokerEpoch(5),
    firstProducerId: 2n ** 62n + 12345n,
    size: 1000,
  },
  { type: "clusterId", clusterId: "MkU3OEVBNTcwNTJENDM2Qg" },
  {
    type: "userScramCredential",
    name: "alice",
    mechanism: "SCRAM-SHA-512",
    salt: new Uint8Array(16).fill(1),
    iterations: 8192,
    storedKey: new Uint8Array(64).fill(2),
    serverKey: new Uint8Array(64).fill(3),
  },
  { type: "removeUserScramCredential", name: "alice", mechanism: "SCRAM-SHA-512" },
  { type: "accessControlEntry", entry: { id: aclId(SAMPLE_ACL), ...SAMPLE_ACL } },
  { type: "removeAccessControlEntry", id: aclId(SAMPLE_ACL) },
  { type: "noOp" },
];

describe("metadata record codec", () => {
  it("has a sample of every record type", () => {
    const covered = new Set(samples.map((r) => r.type));
    for (const type of Object.keys(RECORD_VERSIONS)) expect(covered).toContain(type);
  });

  for (const record of samples) {
    it(`round-trips ${record.type} ${JSON.stringify(record, (_, v) => (typeof v === "bigint" ? `${v}n` : v)).slice(0, 80)}`, () => {
      expect(decodeMetadataRecord(encodeMetadataRecord(record))).toEqual(record);
    });
  }

  it("round-trips a batch in order", () => {
    const bytes = encodeMetadataBatch(samples);
    expect(decodeMetadataBatch(bytes)).toEqual(samples);
    expect(decodeMetadataBatch(encodeMetadataBatch([]))).toEqual([]);
  });

  it("refuses a record version newer than it knows", () => {
    const root = protobuf.Root.fromJSON(protoDescriptor);
    const T = root.lookupType("strand.v1.MetadataRecord");
    const type: MetadataRecordType = "noOp";
    const bytes = T.encode(T.fromObject({ version: RECORD_VERSIONS[type] + 1, noOp: {} })).finish();
    const error = (() => {
      try {
        decodeMetadataRecord(bytes);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(MetadataRecordError);
    expect((error as MetadataRecordError).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it("refuses a record without a body and undecodable bytes", () => {
    const root = protobuf.Root.fromJSON(protoDescriptor);
    const T = root.lookupType("strand.v1.MetadataRecord");
    expect(() => decodeMetadataRecord(T.encode(T.fromObject({ version: 1 })).finish())).toThrow(
      MetadataRecordError,
    );
    expect(() => decodeMetadataBatch(Uint8Array.of(0x0a, 0xff, 0xff, 0xff))).toThrow(
      MetadataRecordError,
    );
  });
});
