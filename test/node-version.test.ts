// Goal: one supported Node.js range everywhere (every package.json's engines, the README,
// docs/operations.md, the `strand` bin), and a clear "Strand needs Node.js >= X (found Y)" below
// it, from the `strand` bin and from the SDK entry, instead of a failure deep inside.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NODE_VERSION_MIN, nodeVersionProblem } from "@strand/base";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");
const bin = join(root, "packages/cli/bin/strand.js");

describe("the supported Node.js range", () => {
  it("is stated once, the same everywhere", () => {
    const manifests = [
      "package.json",
      ...readdirSync(join(root, "packages")).map((p) => `packages/${p}/package.json`),
    ];
    for (const m of manifests) {
      const engines = (JSON.parse(read(m)) as { engines?: { node?: string } }).engines;
      expect(engines?.node, m).toBe(`>=${NODE_VERSION_MIN}`);
    }
    expect(read("README.md")).toContain(`Node.js >= ${NODE_VERSION_MIN}`);
    expect(read("docs/operations.md")).toContain(`Node.js >= ${NODE_VERSION_MIN}`);
    expect(read("packages/cli/bin/strand.js")).toContain(
      `NODE_VERSION_MIN = "${NODE_VERSION_MIN}"`,
    );
  });

  it("names the minimum and the version found below it", () => {
    expect(nodeVersionProblem("20.20.2")).toBe(
      `Strand needs Node.js >= ${NODE_VERSION_MIN} (found 20.20.2)`,
    );
    expect(nodeVersionProblem("v22.15.0")).toContain("(found 22.15.0)");
    expect(nodeVersionProblem("22.17.9")).not.toBeNull();
    expect(nodeVersionProblem(NODE_VERSION_MIN)).toBeNull();
    expect(nodeVersionProblem("22.18.1")).toBeNull();
    expect(nodeVersionProblem("24.0.0")).toBeNull();
    expect(nodeVersionProblem(process.versions.node)).toBeNull();
  });

  it("the SDK checks before loading anything else", () => {
    const index = read("packages/client/src/index.ts");
    const firstImport = index.split("\n").find((l) => /^(import|export) /.test(l));
    expect(firstImport).toBe('import "./node-version.ts";');
    expect(read("packages/client/src/node-version.ts")).toContain("assertNodeVersion();");
  });

  it("the strand bin runs on this Node", () => {
    const out = execFileSync(process.execPath, [bin, "--help"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(out).toContain("server start");
  });

  // The bin is plain JavaScript so that an old Node can run it far enough to refuse. Machines
  // with an older system Node (CI images often have one) check that for real.
  const old = ["/usr/bin/node", "/usr/local/bin/node"]
    .filter((p) => existsSync(p))
    .map((p) => ({
      path: p,
      version: execFileSync(p, ["-p", "process.versions.node"], { encoding: "utf8" }).trim(),
    }))
    .find((n) => nodeVersionProblem(n.version) !== null);
  it.skipIf(old === undefined)(
    `the strand bin refuses an old Node (${old?.path} ${old?.version})`,
    () => {
      const r = spawnSync(old!.path, [bin, "--help"], { encoding: "utf8", timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `strand: Strand needs Node.js >= ${NODE_VERSION_MIN} (found ${old!.version})\n`,
      );
    },
  );
});
