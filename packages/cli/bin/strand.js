#!/usr/bin/env -S node --conditions=strand-source
/**
 * The `strand` bin. Plain JavaScript on purpose: it must run on any Node.js, even one too old
 * to load Strand's TypeScript sources, to say so in one line and exit 1. Then it hands over to
 * src/main.ts. The minimum is @strand/base's NODE_VERSION_MIN (test/node-version.test.ts
 * checks the two agree).
 */
const NODE_VERSION_MIN = "22.18.0";

const have = process.versions.node.split(".").map(Number);
const min = NODE_VERSION_MIN.split(".").map(Number);
const diff = have.map((part, k) => part - (min[k] ?? 0)).find((d) => d !== 0) ?? 0;
if (diff < 0) {
  process.stderr.write(
    `strand: Strand needs Node.js >= ${NODE_VERSION_MIN} (found ${process.versions.node})\n`,
  );
  process.exit(1);
}
await import("../src/main.ts");
