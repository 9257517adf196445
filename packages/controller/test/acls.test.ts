// ACLs in the metadata log: validation, stable ids, create/delete handlers, replay, snapshots
// and the codec's refusal of a malformed ACL record.
import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import {
  type AclBinding,
  AclValidationError,
  aclId,
  describeAcls,
  matchesFilter,
  validBinding,
  validFilter,
} from "../src/acls.ts";
import { decodeMetadataRecord, encodeMetadataRecord, MetadataRecordError } from "../src/codec.ts";
import { imageToRecords, loadSnapshot } from "../src/snapshot.ts";
import { metadataOffset } from "../src/types.ts";
import { TestCluster } from "./helpers.ts";

const raw = (over: Partial<Record<keyof AclBinding, string>> = {}) => ({
  principal: "User:alice",
  host: "",
  resourceType: "topic",
  patternType: "",
  resourceName: "orders",
  operation: "write",
  permission: "",
  ...over,
});

describe("ACL validation", () => {
  it("fills defaults: any host, literal pattern, allow", () => {
    expect(validBinding(raw())).toEqual({
      principal: "User:alice",
      host: "*",
      resourceType: "topic",
      patternType: "literal",
      resourceName: "orders",
      operation: "write",
      permission: "allow",
    });
  });

  it("names the cluster resource `cluster` whatever was sent", () => {
    expect(validBinding(raw({ resourceType: "cluster", resourceName: "" })).resourceName).toBe(
      "cluster",
    );
  });

  it.each([
    [{ principal: "alice" }, /principal must be/],
    [{ principal: "Group:x" }, /principal type must be User or Node/],
    [{ principal: "Node:abc" }, /principal type/],
    [{ resourceType: "queue" }, /resource_type must be one of/],
    [{ operation: "fly" }, /operation must be one of/],
    [{ permission: "maybe" }, /permission must be one of/],
    [{ patternType: "regex" }, /pattern_type must be one of/],
    [{ resourceName: "" }, /resource_name must be/],
    [{ resourceName: "a\u0001b" }, /printable/],
    [{ patternType: "prefixed", resourceName: "*" }, /prefixed pattern cannot be/],
    [{ resourceType: "cluster", patternType: "prefixed" }, /literal pattern only/],
  ])("refuses %j", (over, message) => {
    expect(() => validBinding(raw(over))).toThrow(AclValidationError);
    expect(() => validBinding(raw(over))).toThrow(message);
  });

  it("gives one binding one id, and different bindings different ids", () => {
    const a = validBinding(raw());
    expect(aclId(a)).toBe(aclId(validBinding(raw())));
    expect(aclId(a)).not.toBe(aclId(validBinding(raw({ permission: "deny" }))));
    expect(aclId(a)).toMatch(/^[0-9a-f]{24}$/);
  });
});

describe("ACL filters", () => {
  const literal = validBinding(raw());
  const star = validBinding(raw({ resourceName: "*" }));
  const prefix = validBinding(raw({ patternType: "prefixed", resourceName: "ord" }));
  const other = validBinding(raw({ resourceName: "payments", principal: "User:bob" }));

  it("an empty filter matches everything", () => {
    for (const a of [literal, star, prefix, other]) expect(matchesFilter(a, {})).toBe(true);
  });

  it("exact fields match exactly; 'match' selects every ACL that applies to a name", () => {
    expect(matchesFilter(literal, validFilter({ resourceName: "orders" }))).toBe(true);
    expect(matchesFilter(star, validFilter({ resourceName: "orders" }))).toBe(false);
    const applies = validFilter({ patternType: "match", resourceName: "orders" });
    expect([literal, star, prefix, other].filter((a) => matchesFilter(a, applies))).toEqual([
      literal,
      star,
      prefix,
    ]);
    expect(matchesFilter(other, validFilter({ principal: "User:bob" }))).toBe(true);
    expect(matchesFilter(literal, validFilter({ principal: "User:bob" }))).toBe(false);
    expect(matchesFilter(prefix, validFilter({ patternType: "literal" }))).toBe(false);
    expect(matchesFilter(prefix, validFilter({ patternType: "any" }))).toBe(true);
  });

  it("refuses a bad filter field", () => {
    expect(() => validFilter({ operation: "fly" })).toThrow(AclValidationError);
  });
});

describe("CreateAcls / DeleteAcls", () => {
  const alice = validBinding(raw());
  const bobDeny = validBinding(raw({ principal: "User:bob", permission: "deny" }));

  it("creates once: re-creating a binding writes nothing and answers the same id", () => {
    const c = new TestCluster();
    const first = c.run({ type: "createAcls", acls: [alice, bobDeny, alice] }, 0);
    expect(first.records).toHaveLength(2);
    expect(first.response.ids).toEqual([aclId(alice), aclId(bobDeny), aclId(alice)]);
    expect(c.image.acls.size).toBe(2);
    const again = c.run({ type: "createAcls", acls: [alice] }, 0);
    expect(again.records).toEqual([]);
    expect(again.response.ids).toEqual([aclId(alice)]);
  });

  it("deletes what the filters select and answers it, each ACL under the first filter", () => {
    const c = new TestCluster();
    c.run({ type: "createAcls", acls: [alice, bobDeny] }, 0);
    const r = c.run(
      {
        type: "deleteAcls",
        filters: [{ principal: "User:bob" }, {}, { principal: "User:carol" }],
      },
      0,
    );
    expect(r.response.errorCode).toBe(ErrorCode.NONE);
    expect(r.response.removed.map((l) => l.map((a) => a.principal))).toEqual([
      ["User:bob"],
      ["User:alice"],
      [],
    ]);
    expect(c.image.acls.size).toBe(0);
    expect(describeAcls(c.image, {})).toEqual([]);
  });

  it("survives a snapshot: loading the image's records gives the same ACLs", () => {
    const c = new TestCluster();
    c.run({ type: "createAcls", acls: [alice, bobDeny] }, 0);
    const loaded = loadSnapshot(imageToRecords(c.image), {
      offset: metadataOffset(c.image.offset),
      epoch: c.image.epoch,
    });
    expect([...loaded.acls.values()]).toEqual(expect.arrayContaining([...c.image.acls.values()]));
    expect(loaded.acls.size).toBe(2);
  });
});

describe("ACL records on the wire", () => {
  it("refuses a record whose id does not match its fields, or whose fields are bad", () => {
    const entry = { id: aclId(validBinding(raw())), ...validBinding(raw()) };
    const forged = encodeMetadataRecord({
      type: "accessControlEntry",
      entry: { ...entry, principal: "User:mallory" },
    });
    expect(() => decodeMetadataRecord(forged)).toThrow(MetadataRecordError);
    const bad = encodeMetadataRecord({
      type: "accessControlEntry",
      entry: { ...entry, operation: "fly" as "read" },
    });
    expect(() => decodeMetadataRecord(bad)).toThrow(/invalid ACL record/);
    const badId = encodeMetadataRecord({ type: "removeAccessControlEntry", id: "../etc" });
    expect(() => decodeMetadataRecord(badId)).toThrow(/24 hex digits/);
  });
});
