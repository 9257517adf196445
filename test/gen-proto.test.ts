// Goal: the generated proto types in packages/protocol/src/gen match proto/ exactly, so a
// changed .proto file cannot land without its regenerated code (CONVENTIONS habit 8).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

describe("generated proto code", () => {
  it("has not drifted from proto/", () => {
    const run = () =>
      execFileSync(
        process.execPath,
        ["--conditions=strand-source", join(root, "scripts/gen-proto.ts"), "--check"],
        { cwd: root, stdio: "pipe", timeout: 60_000 },
      );
    expect(run).not.toThrow();
  });
});
