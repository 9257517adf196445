// The broker's SCRAM login: a real exchange succeeds; an unknown user gets a stable made-up
// salt (no user enumeration) and fails like a wrong password; exchanges expire and are bounded.
import { EMPTY_IMAGE, type MetadataImage } from "@strand/controller";
import { ScramClient, saltedPassword, scramKeys } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import {
  LoginError,
  SCRAM_EXCHANGE_TIMEOUT_MS,
  SCRAM_EXCHANGES_MAX,
  ScramServer,
} from "../../src/security/scram-server.ts";

const salt = new Uint8Array(16).fill(5);
const keys = scramKeys(saltedPassword("pw", salt, 4096, "sha512"), "sha512");
const credential = { mechanism: "SCRAM-SHA-512", salt, iterations: 4096, ...keys };
const image = {
  ...EMPTY_IMAGE,
  users: new Map([["alice", new Map([["SCRAM-SHA-512", credential]])]]),
} as unknown as MetadataImage;

function login(server: ScramServer, user: string, password: string) {
  const client = new ScramClient(user, "sha512");
  const start = server.start(image, "SCRAM-SHA-512", client.first());
  const final = client.final(start.serverFirst, password);
  return { client, start, finish: () => server.finish(image, start.exchangeId, final) };
}

describe("the SCRAM server", () => {
  it("logs a user in and the client verifies the server", () => {
    const { client, finish } = login(new ScramServer(() => 0), "alice", "pw");
    const done = finish();
    expect(done.user).toBe("alice");
    expect(() => client.verifyServer(done.serverFinal)).not.toThrow();
  });

  it("answers an unknown user like a known one and refuses it like a wrong password", () => {
    const server = new ScramServer(() => 0);
    const ghost = login(server, "ghost", "pw");
    const again = login(server, "ghost", "pw");
    const salts = (s: string) => /s=([^,]+)/.exec(s)?.[1];
    expect(salts(ghost.start.serverFirst)).toBe(salts(again.start.serverFirst));
    expect(ghost.start.serverFirst).toMatch(/,i=4096$/);
    expect(() => ghost.finish()).toThrow(/unknown user or wrong password/);
    expect(() => login(server, "alice", "bad").finish()).toThrow(/unknown user or wrong password/);
  });

  it("expires exchanges, refuses replays and bounds pending exchanges", () => {
    let now = 0;
    const server = new ScramServer(() => now);
    const slow = login(server, "alice", "pw");
    now += SCRAM_EXCHANGE_TIMEOUT_MS + 1;
    expect(() => slow.finish()).toThrow(/expired or finished/);
    const once = login(server, "alice", "pw");
    once.finish();
    expect(() => once.finish()).toThrow(/expired or finished/);
    for (let i = 0; i < SCRAM_EXCHANGES_MAX; i++)
      server.start(image, "SCRAM-SHA-512", new ScramClient("alice", "sha512").first());
    expect(() =>
      server.start(image, "SCRAM-SHA-512", new ScramClient("alice", "sha512").first()),
    ).toThrow(LoginError);
    expect(() => server.start(image, "SCRAM-SHA-1", "n,,n=a,r=0123456789abcdef")).toThrow(
      /not supported/,
    );
  });
});
