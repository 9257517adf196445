// Prints "tests: N passed, N failed" from vitest's JSON report, as the last line of CI.
import { readFileSync } from "node:fs";

const path = process.argv[2] ?? "test-results/results.json";
try {
  const report = JSON.parse(readFileSync(path, "utf8"));
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  process.stdout.write(
    `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped\n`,
  );
} catch (error) {
  process.stdout.write(`tests: 0 passed, 1 failed (no report at ${path}: ${error})\n`);
  process.exitCode = 1;
}
