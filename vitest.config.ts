import { defineConfig } from "vitest/config";

// One config runs every package's unit tests and the cross-package tests in test/.
// The "strand-source" condition resolves @strand/* imports to TypeScript sources, so
// tests never depend on a stale build.
const conditions = ["strand-source", "node", "import", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    pool: "forks",
    reporters: ["default", "json"],
    outputFile: { json: "test-results/results.json" },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        // Multi-process cluster and fault tests start several node processes each: one file
        // at a time, so two clusters never fight over two cores and time out.
        extends: true,
        test: {
          name: "cluster",
          include: ["test/**/*.test.ts"],
          maxWorkers: 1,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
