// Goal: every npm script runs on the pinned Node.js 24 LTS, not the machine's older Node.
import { describe, expect, it } from "vitest";

describe("runtime", () => {
  it("runs on Node.js 24", () => {
    expect(process.versions.node.startsWith("24.")).toBe(true);
  });
});

describe("strand bin", () => {
  // Goal: `npx strand` works at the repo root: the bin is executable and runs on Node 24.
  it("is executable and answers --help", async () => {
    const { statSync } = await import("node:fs");
    const { execFileSync } = await import("node:child_process");
    const { join } = await import("node:path");
    const bin = join(import.meta.dirname, "../node_modules/.bin/strand");
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    const out = execFileSync(bin, ["--help"], { encoding: "utf8", timeout: 30_000 });
    expect(out).toContain("server start");
  });
});
