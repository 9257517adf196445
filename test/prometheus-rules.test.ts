// Goal: the shipped alert rules are valid and each alert fires on the series it is about, and
// only then: `promtool check rules` and `promtool test rules` (deploy/prometheus/
// alerts.test.yaml holds a unit test per alert) with the real promtool from Debian's
// `prometheus` package. Without promtool the test is skipped and says how to install it.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ALERTS_FILE,
  alertExpressions,
  hasTool,
  MISSING_PROMETHEUS,
  promtool,
} from "./support/prometheus.ts";

const present = hasTool("promtool");

describe("deploy/prometheus/alerts.yaml", () => {
  it.skipIf(!present)(`passes promtool check rules ${present ? "" : MISSING_PROMETHEUS}`, () => {
    const r = promtool(["check", "rules", "alerts.yaml"]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
  });

  it.skipIf(!present)(`passes promtool test rules ${present ? "" : MISSING_PROMETHEUS}`, () => {
    const r = promtool(["test", "rules", "alerts.test.yaml"]);
    expect(r.status, r.output).toBe(0);
  });

  it("has a unit test for every alert", () => {
    const alerts = [...readFileSync(ALERTS_FILE, "utf8").matchAll(/^\s+- alert: (\w+)$/gm)].map(
      (m) => m[1],
    );
    const tests = readFileSync(ALERTS_FILE.replace("alerts.yaml", "alerts.test.yaml"), "utf8");
    expect(alerts.length).toBeGreaterThanOrEqual(15);
    for (const a of alerts)
      expect(tests, `no test for ${a}`).toMatch(new RegExp(`alertname: ${a}\\n`));
    expect(alertExpressions()).toHaveLength(alerts.length);
  });
});
