// Goal: a node certificate names exactly one node through its SAN URI strand:node:<id>, and a
// claim (from, replica_id, broker_id) passes only when it is that node, or when TLS is off.
import { describe, expect, it } from "vitest";
import { identityMismatch, nodeIdOfCertificate, peerIdentity } from "../src/wire/index.ts";

describe("node identity", () => {
  it("reads the node id from the SAN URI, and only an unambiguous one", () => {
    const of = (subjectaltname: string) => nodeIdOfCertificate({ subjectaltname });
    expect(of("URI:strand:node:3, DNS:localhost, IP Address:127.0.0.1")).toBe(3);
    expect(of("DNS:localhost")).toBeNull();
    expect(of("URI:strand:node:3, URI:strand:node:4")).toBeNull();
    expect(of("URI:strand:node:3, URI:strand:node:3")).toBe(3);
    expect(of("URI:strand:node:-1")).toBeNull();
    expect(of("URI:strand:node:2147483648")).toBeNull();
    expect(of("URI:strand:node:3x")).toBeNull();
    expect(nodeIdOfCertificate(undefined)).toBeNull();
  });

  it("checks a claim against the peer's certificate, and nothing without TLS", () => {
    const plaintext = peerIdentity({
      getAuthContext: () => ({ transportSecurityType: "insecure" }),
    });
    expect(plaintext).toEqual({ tls: false });
    expect(identityMismatch(plaintext, 3, "broker_id")).toBeNull();
    const node2 = { tls: true, nodeId: 2, subject: "node-2" } as const;
    expect(identityMismatch(node2, 2, "broker_id")).toBeNull();
    expect(identityMismatch(node2, 3, "broker_id")).toBe(
      "broker_id 3 refused: the client certificate belongs to node 2",
    );
    const client = { tls: true, nodeId: null, subject: "alice" } as const;
    expect(identityMismatch(client, 1, "replica_id")).toMatch(/CN alice\) names no node/);
  });
});
