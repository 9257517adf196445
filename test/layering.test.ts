// Goal: imports point downward only (DESIGN.md §1). A package may depend on, and import,
// only the Strand packages below it, and every @strand import is declared in package.json.
// @strand/base is the ground floor: it imports no Strand package, and every package may import it.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const packagesDir = join(root, "packages");

/** Which Strand packages each package may import (DESIGN.md §1). */
const allowed: Record<string, readonly string[]> = {
  base: [],
  protocol: ["base"],
  storage: ["protocol", "base"],
  raft: ["protocol", "base"],
  controller: ["raft", "protocol", "base"],
  broker: ["controller", "raft", "storage", "protocol", "base"],
  client: ["protocol", "base"],
  cli: ["client", "broker", "controller", "raft", "storage", "protocol", "base"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

function strandImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = text.matchAll(
    // A subpath (@strand/base/assert) counts as its package.
    /from\s+["']@strand\/([a-z-]+)(?:\/[^"']*)?["']|import\(["']@strand\/([a-z-]+)(?:\/[^"']*)?["']\)/g,
  );
  return [...found].map((m) => m[1] ?? m[2] ?? "");
}

const packages = readdirSync(packagesDir).filter((name) =>
  statSync(join(packagesDir, name, "package.json"), { throwIfNoEntry: false })?.isFile(),
);

describe("package layering", () => {
  it("knows every package", () => {
    for (const name of packages) expect(Object.keys(allowed)).toContain(name);
  });

  it("base imports no Strand package and every other package may import it", () => {
    expect(allowed.base).toEqual([]);
    for (const name of packages) if (name !== "base") expect(allowed[name]).toContain("base");
  });

  for (const name of packages) {
    it(`${name} depends only on packages below it`, () => {
      const manifest = JSON.parse(readFileSync(join(packagesDir, name, "package.json"), "utf8"));
      const declared = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })
        .filter((dep) => dep.startsWith("@strand/"))
        .map((dep) => dep.slice("@strand/".length));
      for (const dep of declared) expect(allowed[name]).toContain(dep);

      const srcDir = join(packagesDir, name, "src");
      for (const file of sourceFiles(srcDir)) {
        for (const imported of strandImports(file)) {
          expect(declared, `${file} imports @strand/${imported}`).toContain(imported);
        }
      }
    });
  }
});
