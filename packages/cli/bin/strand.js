#!/usr/bin/env node
/**
 * The `strand` bin. Plain JavaScript on purpose: it must run on any Node.js, even one too old
 * to load Strand, to say so in one line and exit 1. The minimum is @strand/base's
 * NODE_VERSION_MIN (test/node-version.test.ts checks the two agree).
 *
 * Installed from npm it runs the built JavaScript (dist/). In this repository's workspace it
 * runs the TypeScript sources instead, resolving every @strand/* import to its sources through
 * the "strand-source" export condition, added here by a resolve hook rather than a flag in the
 * shebang: a published package must never ask for sources it does not ship (and Node does not
 * strip types under node_modules).
 */
import { existsSync } from "node:fs";
import { sep } from "node:path";
import { fileURLToPath } from "node:url";

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

const sources = new URL("../src/main.ts", import.meta.url);
const inWorkspace =
  !fileURLToPath(import.meta.url).includes(`${sep}node_modules${sep}`) && existsSync(sources);
if (inWorkspace) {
  const { registerHooks } = await import("node:module");
  registerHooks({
    resolve: (specifier, context, next) =>
      next(specifier, { ...context, conditions: [...context.conditions, "strand-source"] }),
  });
  await import(sources.href);
} else {
  await import("../dist/main.js");
}
