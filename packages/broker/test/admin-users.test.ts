// AdminService users: the broker derives the keys from the salted password (never forwarding
// it), answers a refused change at once, and answers an accepted one only once its own image
// shows it (so a login right after `strand user create` finds the user).
import { EMPTY_IMAGE, type MetadataImage } from "@strand/controller";
import { saltedPassword, scramKeys } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { alterUserScramCredentials } from "../src/services/admin-users.ts";
import type { ServiceContext } from "../src/services/context.ts";

const salt = Buffer.alloc(16, 1);
const salted = saltedPassword("pw", salt, 4096, "sha512");

function context(refuse: boolean) {
  const sent: unknown[] = [];
  let predicate: ((image: MetadataImage) => boolean) | null = null;
  const ctx = {
    controller: {
      alterUserScramCredential: async (r: unknown) => {
        sent.push(r);
        return {
          error: refuse ? { code: 93, name: "UNACCEPTABLE_CREDENTIAL", message: "no" } : null,
        };
      },
    },
    defaults: { requestTimeoutMs: 1000 },
    waitForImage: async (p: (image: MetadataImage) => boolean) => {
      predicate = p;
      return true;
    },
  } as unknown as ServiceContext;
  return { ctx, sent, predicate: () => predicate! };
}

const withUser = (name: string) =>
  ({ ...EMPTY_IMAGE, users: new Map([[name, new Map([["SCRAM-SHA-512", {}]])]]) }) as never;

describe("AlterUserScramCredentials on the broker", () => {
  const request = {
    upsertions: [
      { name: "alice", mechanism: "SCRAM-SHA-512", iterations: 4096, salt, saltedPassword: salted },
    ],
    deletions: [],
  };

  it("sends StoredKey and ServerKey, never the salted password, and waits for the image", async () => {
    const { ctx, sent, predicate } = context(false);
    const { results } = await alterUserScramCredentials(ctx, request as never);
    expect(results?.[0]?.errorCode).toBe(0);
    const keys = scramKeys(salted, "sha512");
    expect(sent).toEqual([
      expect.objectContaining({
        name: "alice",
        storedKey: keys.storedKey,
        serverKey: keys.serverKey,
      }),
    ]);
    expect(JSON.stringify(sent)).not.toContain(JSON.stringify([...salted]));
    expect(predicate()(EMPTY_IMAGE)).toBe(false);
    expect(predicate()(withUser("alice"))).toBe(true);
  });

  it("does not wait for a refused change", async () => {
    const { ctx, predicate } = context(true);
    const { results } = await alterUserScramCredentials(ctx, request as never);
    expect(results?.[0]?.errorCode).toBe(93);
    expect(predicate()(EMPTY_IMAGE)).toBe(true);
  });

  it("waits for a deletion to leave the image", async () => {
    const { ctx, predicate } = context(false);
    const deletion = { upsertions: [], deletions: [{ name: "alice", mechanism: "SCRAM-SHA-512" }] };
    await alterUserScramCredentials(ctx, deletion as never);
    expect(predicate()(withUser("alice"))).toBe(false);
    expect(predicate()(EMPTY_IMAGE)).toBe(true);
  });
});
