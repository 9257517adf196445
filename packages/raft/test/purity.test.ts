// Goal: the consensus core and the simulator stay deterministic: no wall clock, no global
// randomness, no timers, no file or network I/O in their sources (docs/design.md: "a pure core").
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const banned = [
  /\bDate\.now\b/,
  /\bnew Date\b/,
  /\bMath\.random\b/,
  /\bperformance\.now\b/,
  /\bset(Timeout|Interval|Immediate)\b/,
  /\bprocess\.hrtime\b/,
  /["']node:(fs|net|dgram|http|https|child_process|worker_threads|crypto)["']/,
  /\bconsole\./,
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("purity", () => {
  for (const part of ["core", "sim"]) {
    it(`src/${part} uses no clock, randomness, timers or I/O`, () => {
      const files = sources(join(import.meta.dirname, "..", "src", part));
      expect(files.length).toBeGreaterThan(0);
      const hits = files.flatMap((f) =>
        readFileSync(f, "utf8")
          .split("\n")
          .flatMap((line, n) =>
            banned.some((b) => b.test(line)) ? [`${f}:${n + 1}: ${line.trim()}`] : [],
          ),
      );
      expect(hits).toEqual([]);
    });
  }
});
