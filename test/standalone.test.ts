// Goal: the repository stands alone. `npm ci && npm test` must pass in a clone with nothing
// beside it, so no source, test, script or doc may reach outside the clone (e.g. a
// sibling "shared" folder that exists only on the developers' machines).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const scanned = ["packages", "test", "scripts", "docs", "deploy", "README.md", ".ci"];
const skipped = new Set(["node_modules", "dist", "gen", "test-results", ".strand"]);
const textFile = /\.(ts|mjs|js|json|md|yaml|yml|sh|proto)$|^run$/;
/** Spelled in two pieces so that this file does not match itself. */
const outsidePath = ["..", "shared"].join("/");

function files(path: string): string[] {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return [];
  if (!stat.isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => !skipped.has(name))
    .flatMap((name) => files(join(path, name)));
}

describe("the repository stands alone", () => {
  it(`nothing refers to ${outsidePath}`, () => {
    const offenders = scanned
      .flatMap((entry) => files(join(root, entry)))
      .filter((file) => textFile.test(file.split("/").pop() ?? ""))
      .filter((file) => readFileSync(file, "utf8").includes(outsidePath))
      .map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });
});
