// Goal: `strand cluster new-id` prints a fresh cluster id, in the shape `server start
// --cluster-id` accepts, without contacting any cluster (no broker runs here).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const main = join(import.meta.dirname, "../src/main.ts");

function cli(...args: string[]): string {
  return execFileSync(process.execPath, ["--conditions=strand-source", main, ...args], {
    encoding: "utf8",
    env: { ...process.env, STRAND_BROKERS: "127.0.0.1:1" },
  });
}

describe("strand cluster new-id", () => {
  it("prints a new 22-character base64url id each time, as text or JSON", () => {
    const a = cli("cluster", "new-id").trim();
    const b = cli("cluster", "new-id").trim();
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(b).not.toBe(a);
    expect(JSON.parse(cli("cluster", "new-id", "--format", "json")).clusterId).toMatch(
      /^[A-Za-z0-9_-]{22}$/,
    );
  });
});
