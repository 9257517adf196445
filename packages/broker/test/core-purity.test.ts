// Goal: the broker core is pure (CONVENTIONS habit 1): no clock, randomness, timers, file
// or network I/O, or console in packages/broker/src/core (and its subfolders, such as the group
// coordinator in core/groups); time comes in as nowMs, member ids from the shell.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const srcDir = join(import.meta.dirname, "../src/core");
const banned = [
  /\bDate\.now\b/,
  /\bnew Date\(/,
  /\bMath\.random\b/,
  /\bsetTimeout\b/,
  /\bsetInterval\b/,
  /\bsetImmediate\b/,
  /\bqueueMicrotask\b/,
  /\bperformance\.now\b/,
  /\bprocess\.hrtime\b/,
  /\bconsole\./,
  /from "(node:)?(fs|fs\/promises|net|http|http2|dgram|child_process|timers|timers\/promises)"/,
  /from "@grpc\//,
  /\brandomUUID\b/,
];

describe("broker core purity", () => {
  const files = (readdirSync(srcDir, { recursive: true }) as string[]).filter((n) =>
    n.endsWith(".ts"),
  );

  it("scans the core's files", () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(files).toContain(join("groups", "heartbeat.ts"));
  });

  for (const name of files) {
    it(`${name} uses no clock, randomness, timers or I/O`, () => {
      const text = readFileSync(join(srcDir, name), "utf8");
      for (const pattern of banned) expect(text, `${name} matches ${pattern}`).not.toMatch(pattern);
    });
  }

  it("the scan bites on a banned call", () => {
    const sample = 'import { readFile } from "node:fs";\nconst t = Date.now();';
    expect(banned.some((p) => p.test(sample))).toBe(true);
  });
});
