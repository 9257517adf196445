// Goal: assert throws the one AssertionFailure (never retriable, stable name) and the module
// stays pure enough for the Raft core: no clock, timer, randomness or I/O in its source.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AssertionFailure, assert } from "../src/assert.ts";

describe("assert", () => {
  it("throws AssertionFailure on a falsy condition only", () => {
    expect(() => assert(true, "fine")).not.toThrow();
    let caught: unknown;
    try {
      assert(0, "zero");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AssertionFailure);
    expect((caught as AssertionFailure).name).toBe("AssertionFailure");
    expect((caught as AssertionFailure).retriable).toBe(false);
    expect((caught as AssertionFailure).message).toBe("assertion failed: zero");
  });

  it("imports nothing and uses no clock, timer or randomness", () => {
    const text = readFileSync(join(import.meta.dirname, "..", "src", "assert.ts"), "utf8");
    expect(text).not.toMatch(/^import /m);
    expect(text).not.toMatch(/Date\.now|Math\.random|setTimeout|setInterval|node:/);
  });
});
