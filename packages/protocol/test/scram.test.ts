import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  parseClientFirst,
  ScramClient,
  ScramError,
  saltedPassword,
  scramKeys,
  serverFirstMessage,
  verifyClientFinal,
} from "../src/index.ts";

/** PBKDF2-HMAC written out from RFC 8018 §5.2, independent of node's pbkdf2Sync. */
function pbkdf2(hash: "sha512", password: string, salt: Buffer, iterations: number): Buffer {
  let u = createHmac(hash, password)
    .update(Buffer.concat([salt, Buffer.from([0, 0, 0, 1])]))
    .digest();
  const out = Buffer.from(u);
  for (let i = 1; i < iterations; i++) {
    u = createHmac(hash, password).update(u).digest();
    for (let k = 0; k < out.length; k++) out[k]! ^= u[k]!;
  }
  return out;
}

describe("SCRAM", () => {
  it("reproduces RFC 7677's SCRAM-SHA-256 example exchange", () => {
    const client = new ScramClient("user", "sha256", "rOprNGfwEbeRWgbNEkqO");
    expect(client.first()).toBe("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    const serverFirst =
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const clientFinal = client.final(serverFirst, "pencil");
    expect(clientFinal).toBe(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    );
    const salted = saltedPassword(
      "pencil",
      Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"),
      4096,
      "sha256",
    );
    const keys = scramKeys(salted, "sha256");
    const first = parseClientFirst(client.first());
    const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const serverFinal = verifyClientFinal(clientFinal, first, serverFirst, nonce, keys, "sha256");
    expect(serverFinal).toBe("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    expect(() => client.verifyServer(serverFinal)).not.toThrow();
  });

  it("derives SHA-512 keys that match an independent PBKDF2/HMAC computation", () => {
    const salt = Buffer.from("0123456789abcdef0123456789abcdef", "hex");
    const salted = saltedPassword("correct horse", salt, 4096, "sha512");
    expect(salted.equals(pbkdf2("sha512", "correct horse", salt, 4096))).toBe(true);
    const clientKey = createHmac("sha512", salted).update("Client Key").digest();
    const keys = scramKeys(salted, "sha512");
    expect(keys.storedKey.equals(createHash("sha512").update(clientKey).digest())).toBe(true);
    expect(keys.serverKey.equals(createHmac("sha512", salted).update("Server Key").digest())).toBe(
      true,
    );
  });

  const salt = Buffer.alloc(16, 7);
  const keys = scramKeys(saltedPassword("secret", salt, 4096, "sha512"), "sha512");
  const exchange = (password: string) => {
    const client = new ScramClient("alice", "sha512");
    const first = parseClientFirst(client.first());
    const nonce = `${first.nonce}SERVERNONCE0123456789`;
    const serverFirst = serverFirstMessage(nonce, salt, 4096);
    const clientFinal = client.final(serverFirst, password);
    return {
      client,
      run: () => verifyClientFinal(clientFinal, first, serverFirst, nonce, keys, "sha512"),
    };
  };

  it("logs in with SHA-512 and the client verifies the server", () => {
    const { client, run } = exchange("secret");
    expect(() => client.verifyServer(run())).not.toThrow();
  });

  it("refuses a wrong password", () => {
    expect(() => exchange("Secret").run()).toThrow(/does not verify/);
  });

  it("the client refuses a server that does not know the keys", () => {
    const { client } = exchange("secret");
    expect(() => client.verifyServer(`v=${Buffer.alloc(64).toString("base64")}`)).toThrow(
      /signature does not verify/,
    );
  });

  it("refuses malformed and hostile messages", () => {
    expect(() => parseClientFirst("y,,n=a,r=0123456789abcdef")).toThrow(ScramError);
    expect(() => parseClientFirst("n,,n=a")).toThrow(/without r=/);
    expect(() => parseClientFirst("n,,n=a,r=short")).toThrow(ScramError);
    expect(() => parseClientFirst(`n,,n=a,r=${"x".repeat(2000)}`)).toThrow(/too long/);
    const client = new ScramClient("a", "sha512", "0123456789abcdef");
    expect(() => client.final("r=0123456789abcdefXX,s=AAAA,i=100", "p")).toThrow(/iterations/);
    expect(() => client.final("r=other0123456789abcdef,s=AAAA,i=4096", "p")).toThrow(/nonce/);
  });
});
