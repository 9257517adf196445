import { defineConfig } from "vitest/config";

// One config runs every package's unit tests and the cross-package tests in test/.
// The "strand-source" condition resolves @strand/* imports to TypeScript sources, so
// tests never depend on a stale build.
export default defineConfig({
  resolve: {
    conditions: ["strand-source", "node", "import", "default"],
  },
  ssr: {
    resolve: {
      conditions: ["strand-source", "node", "import", "default"],
    },
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: ["default", "json"],
    outputFile: { json: "test-results/results.json" },
  },
});
