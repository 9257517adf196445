// Goal: `strand server start` turns on V8's accounting of external memory in the heap limit
// (docs/performance.md, "External memory and mark-compacts") unless the operator chose either
// way on the command line or in NODE_OPTIONS (V8 flags may be spelled with _ or -), and only on
// the Node it was measured on (24) or newer.
import { describe, expect, it } from "vitest";
import { externalMemoryFlag } from "../src/server.ts";

const FLAG = "--external-memory-accounted-in-global-limit";

describe("externalMemoryFlag", () => {
  it("sets the flag by default", () => {
    expect(externalMemoryFlag([], "")).toBe(FLAG);
    expect(externalMemoryFlag(["--conditions=strand-source"], "--max-old-space-size=512")).toBe(
      FLAG,
    );
  });

  it("is not set on a Node older than 24", () => {
    expect(externalMemoryFlag([], "", "22.18.0")).toBeNull();
    expect(externalMemoryFlag([], "", "24.0.0")).toBe(FLAG);
  });

  it("leaves an operator's choice alone, either way and either spelling", () => {
    expect(externalMemoryFlag([FLAG])).toBeNull();
    expect(externalMemoryFlag(["--no-external-memory-accounted-in-global-limit"])).toBeNull();
    expect(externalMemoryFlag([], "--no_external_memory_accounted_in_global_limit")).toBeNull();
    expect(externalMemoryFlag([], ` --trace-gc  ${FLAG} `)).toBeNull();
  });
});
