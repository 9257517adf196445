// Goal: every wire error code is unique, says what to do, and is documented in docs/errors.md
// with the same number, name and retriable flag (CONVENTIONS: a test fails when a code is
// undocumented).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, errorCodeInfo } from "@strand/protocol";
import { describe, expect, it } from "vitest";

const doc = readFileSync(join(import.meta.dirname, "../docs/errors.md"), "utf8");
const rows = Object.entries(ErrorCode);

describe("error code table", () => {
  it("has unique numbers and names matching their keys", () => {
    const numbers = rows.map(([, info]) => info.code);
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const [key, info] of rows) expect(info.name).toBe(key);
  });

  it("tells the user what to do for every code", () => {
    for (const [, info] of rows) expect(info.action.length).toBeGreaterThan(15);
  });

  it("maps unknown numbers to UNKNOWN", () => {
    expect(errorCodeInfo(31_337)).toBe(ErrorCode.UNKNOWN);
  });

  for (const [name, info] of rows) {
    it(`documents ${name}`, () => {
      const line = doc.split("\n").find((l) => l.includes(`\`${name}\``));
      expect(line, `docs/errors.md has no row for ${name}`).toBeDefined();
      expect(line).toMatch(new RegExp(`^\\| ${info.code} \\|`));
      expect(line).toContain(`| ${info.retriable ? "yes" : "no"} |`);
    });
  }
});
