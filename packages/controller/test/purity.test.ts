// Goal: the controller core is pure (CONVENTIONS habit 1): no clock, randomness, timers, file
// or network I/O, or console in packages/controller/src; time comes in as nowMs.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const srcDir = join(import.meta.dirname, "../src");
const banned = [
  /\bDate\.now\b/,
  /\bnew Date\(/,
  /\bMath\.random\b/,
  /\bsetTimeout\b/,
  /\bsetInterval\b/,
  /\bsetImmediate\b/,
  /\bperformance\.now\b/,
  /\bprocess\.hrtime\b/,
  /\bconsole\./,
  /from "node:(fs|fs\/promises|net|http|dgram|child_process)"/,
  /\brandomUUID\b/,
];

describe("controller purity", () => {
  for (const name of readdirSync(srcDir).filter((n) => n.endsWith(".ts"))) {
    it(`${name} uses no clock, randomness, timers or I/O`, () => {
      const text = readFileSync(join(srcDir, name), "utf8");
      for (const pattern of banned) expect(text, `${name} matches ${pattern}`).not.toMatch(pattern);
    });
  }
});
