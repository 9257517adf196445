// Goal: SCRAM users in the metadata log: a credential is validated (name, mechanism,
// iterations >= 4096, salt and key sizes), set, replaced and removed by replay; a snapshot
// carries users; deleting an unknown user is RESOURCE_NOT_FOUND.
import { describe, expect, it } from "vitest";
import { decodeMetadataBatch, encodeMetadataBatch } from "../src/codec.ts";
import type { AlterUserScramCredentialRequest } from "../src/requests.ts";
import { imageToRecords, loadSnapshot } from "../src/snapshot.ts";
import { TestCluster } from "./helpers.ts";

function upsert(
  name: string,
  over: Partial<NonNullable<AlterUserScramCredentialRequest["credential"]>> = {},
): AlterUserScramCredentialRequest {
  return {
    type: "alterUserScramCredential",
    name,
    mechanism: "SCRAM-SHA-512",
    credential: {
      salt: new Uint8Array(16).fill(1),
      iterations: 4096,
      storedKey: new Uint8Array(64).fill(2),
      serverKey: new Uint8Array(64).fill(3),
      ...over,
    },
  };
}

const remove = (name: string): AlterUserScramCredentialRequest => ({
  type: "alterUserScramCredential",
  name,
  mechanism: "SCRAM-SHA-512",
  credential: null,
});

describe("SCRAM users", () => {
  it("sets, replaces and removes a credential through replay, and snapshots it", () => {
    const c = new TestCluster();
    expect(c.run(upsert("alice"), 0).response.errorCode.name).toBe("NONE");
    expect(c.image.users.get("alice")?.get("SCRAM-SHA-512")?.iterations).toBe(4096);
    c.run(upsert("alice", { iterations: 8192 }), 0);
    expect(c.image.users.get("alice")?.get("SCRAM-SHA-512")?.iterations).toBe(8192);
    c.run(upsert("bob"), 0);
    const records = decodeMetadataBatch(encodeMetadataBatch(imageToRecords(c.image)));
    expect(loadSnapshot(records, c.image)).toEqual(c.image);
    c.run(remove("alice"), 0);
    expect([...c.image.users.keys()]).toEqual(["bob"]);
  });

  it("refuses bad credentials with UNACCEPTABLE_CREDENTIAL and the rule", () => {
    const c = new TestCluster();
    const refused = (r: AlterUserScramCredentialRequest) => {
      const res = c.run(r, 0).response;
      expect(res.errorCode.name).toBe("UNACCEPTABLE_CREDENTIAL");
      return res.errorMessage;
    };
    expect(refused(upsert("alice", { iterations: 4095 }))).toMatch(/iterations 4095/);
    expect(refused(upsert("alice", { salt: new Uint8Array(8) }))).toMatch(/salt/);
    expect(refused(upsert("alice", { storedKey: new Uint8Array(32) }))).toMatch(/64 bytes/);
    expect(refused(upsert("a,b"))).toMatch(/without spaces/);
    expect(refused(upsert(""))).toMatch(/1..256/);
    expect(refused({ ...upsert("alice"), mechanism: "SCRAM-SHA-1" as never })).toMatch(
      /not supported/,
    );
    expect(c.image.users.size).toBe(0);
  });

  it("answers RESOURCE_NOT_FOUND for deleting an unknown user", () => {
    const c = new TestCluster();
    expect(c.run(remove("ghost"), 0).response.errorCode.name).toBe("RESOURCE_NOT_FOUND");
  });
});
