// Goal: the internal listener counts node-identity refusals where they happen — an RPC its
// handler answers PERMISSION_DENIED (by method and by what the certificate names) and a TLS
// handshake that fails before any handler (by what OpenSSL reported) — on a real grpc-js
// server with mTLS. Certificates are made with openssl in a temp dir.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { internalChannelOptions, type RaftServiceClient, strandGrpc } from "@strand/protocol";
import { afterAll, describe, expect, it } from "vitest";
import {
  countHandshakeFailures,
  handshakeReason,
  type IdentityRefusalReason,
  identityRefusalInterceptor,
} from "../src/node/identity-refusals.ts";

const dir = mkdtempSync(join(tmpdir(), "strand-identity-refusals-"));
const closers: (() => void)[] = [];
afterAll(() => {
  for (const close of closers) close();
  rmSync(dir, { recursive: true, force: true });
});

/** A self-signed certificate for localhost that serves as its own CA (names no node). */
function selfSigned(): { cert: Buffer; key: Buffer } {
  const cert = join(dir, "self.crt");
  const key = join(dir, "self.key");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost"],
    ],
    { stdio: "ignore" },
  );
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

function step(client: RaftServiceClient): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) =>
    client.Step({ messages: [] }, { deadline: Date.now() + 5_000 }, (error) => resolve(error)),
  );
}

describe("node-identity refusal counting", () => {
  it("classifies handshake errors by what OpenSSL reported", () => {
    const error = (code: string, message = "") => Object.assign(new Error(message), { code });
    expect(handshakeReason(error("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"))).toBe(
      "no_certificate",
    );
    expect(handshakeReason(error("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"))).toBe("untrusted_certificate");
    expect(handshakeReason(error("", "certificate verify failed"))).toBe("untrusted_certificate");
    expect(handshakeReason(error("ECONNRESET", "socket hang up"))).toBe("handshake_failed");
    expect(handshakeReason("garbage")).toBe("handshake_failed");
  });

  it("counts a refused RPC by method and reason, and a handshake without a certificate", async () => {
    const { cert, key } = selfSigned();
    const counted: string[] = [];
    const count = (rpc: string, reason: IdentityRefusalReason) => counted.push(`${rpc} ${reason}`);
    const server = new grpc.Server({ interceptors: [identityRefusalInterceptor(count)] });
    closers.push(() => server.forceShutdown());
    server.addService(strandGrpc().strand.v1.RaftService.service, {
      Step: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback({ code: grpc.status.PERMISSION_DENIED, details: "refused" }),
    });
    const credentials = grpc.ServerCredentials.createSsl(
      cert,
      [{ cert_chain: cert, private_key: key }],
      true,
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", credentials, (e, p) => (e ? reject(e) : resolve(p))),
    );
    expect(countHandshakeFailures(server, (reason) => count("tls_handshake", reason))).toBe(true);
    const client = (c: grpc.ChannelCredentials) => {
      const raft = new (strandGrpc().strand.v1.RaftService)(`localhost:${port}`, c, {
        ...internalChannelOptions(),
      }) as RaftServiceClient;
      closers.push(() => raft.close());
      return raft;
    };
    // A valid certificate of the CA that names no node: the handler refuses, the listener counts.
    const refused = await step(client(grpc.credentials.createSsl(cert, key, cert)));
    expect(refused?.code).toBe(grpc.status.PERMISSION_DENIED);
    // No client certificate: refused in the handshake, before any handler.
    const anonymous = await step(client(grpc.credentials.createSsl(cert)));
    expect(anonymous?.code).toBe(grpc.status.UNAVAILABLE);
    expect(counted).toContain("Step names_no_node");
    expect(counted).toContain("tls_handshake no_certificate");
  });

  it("says so when grpc-js keeps its servers elsewhere", () => {
    expect(countHandshakeFailures({} as grpc.Server, () => {})).toBe(false);
  });
});
