// Goal: the wire contract has one home. Outside packages/protocol nobody imports generated
// files (types come from "@strand/protocol"), loads strand.v1 by itself, or borrows the
// broker's stubs in tests and scripts (docs/decisions.md, "One wire module").
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const EXEMPT = ["packages/protocol/"];
/** Files allowed to load a definition: a test client of grpc.reflection.v1, not strand.v1. */
const LOADERS_ALLOWED = ["packages/broker/test/reflection-client.ts"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === "node_modules" || name === "dist") return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

const files = ["packages", "test", "scripts"]
  .flatMap((dir) => sourceFiles(join(root, dir)))
  .map((file) => relative(root, file))
  .filter((file) => !EXEMPT.some((prefix) => file.startsWith(prefix)));

const rules: [string, RegExp][] = [
  ["imports a generated file", /from\s+["']@strand\/protocol\/gen\//],
  ["loads a package definition itself", /\bloadPackageDefinition\s*\(|protoLoader\.fromJSON/],
  [
    "borrows the broker's gRPC stubs",
    /import\s*\{[^}]*\b(clientStubs|clientProto|replicationClient|healthClient)\b[^}]*\}\s*from\s*["']@strand\/broker["']/,
  ],
];

describe("one wire module", () => {
  for (const [what, pattern] of rules) {
    it(`no file outside protocol ${what}`, () => {
      const offenders = files
        .filter((file) => !(what.startsWith("loads") && LOADERS_ALLOWED.includes(file)))
        .filter((file) => pattern.test(readFileSync(join(root, file), "utf8")));
      expect(offenders).toEqual([]);
    });
  }
});
