// Goal: every npm script runs on the pinned Node.js 24 LTS, not the machine's older Node.
import { describe, expect, it } from "vitest";

describe("runtime", () => {
  it("runs on Node.js 24", () => {
    expect(process.versions.node.startsWith("24.")).toBe(true);
  });
});
