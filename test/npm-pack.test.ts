// Goal: @strand/client and @strand/cli install from their npm tarballs into a project with no
// workspace around it, and work there: the installed `strand` starts a node, and the
// docs/client.md quick start (run verbatim, as TypeScript) produces and consumes against it.
// Every @strand/* package is packed (the two depend on the others, which are published with
// them); third-party dependencies come from npm's cache first (--prefer-offline).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts, waitFor } from "./support/free-ports.ts";

const root = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "strand-pack-"));
const app = join(dir, "app");
const PACKAGES = ["base", "protocol", "storage", "raft", "controller", "broker", "client", "cli"];

/** The docs/client.md "Quick start" TypeScript block. */
function quickStart(): string {
  const doc = readFileSync(join(root, "docs/client.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Quick start"), doc.indexOf("## Connecting"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error("docs/client.md has no Quick start ts block");
  return block;
}

function npm(args: readonly string[], cwd: string, timeoutMs = 300_000): string {
  return execFileSync("npm", [...args], {
    cwd,
    timeout: timeoutMs,
    env: { ...process.env, npm_config_loglevel: "error" },
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
}

describe("the published packages", () => {
  let tarballs: string[] = [];

  beforeAll(() => {
    execFileSync("npm", ["run", "--silent", "build"], { cwd: root, timeout: 300_000 });
    const packDir = join(dir, "tarballs");
    mkdirSync(packDir);
    npm(
      ["pack", "--pack-destination", packDir, ...PACKAGES.flatMap((p) => ["-w", `packages/${p}`])],
      root,
    );
    tarballs = readdirSync(packDir).map((f) => join(packDir, f));
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "quickstart", private: true, type: "module" }),
    );
    npm(["install", "--prefer-offline", "--no-audit", "--no-fund", ...tarballs], app);
  }, 600_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("packs built JS, types, README and package.json only", () => {
    expect(tarballs.map((t) => t.split("/").at(-1)).sort()).toEqual(
      PACKAGES.map((p) => `strand-${p}-0.1.0.tgz`).sort(),
    );
    const client = join(app, "node_modules/@strand/client");
    const manifest = JSON.parse(readFileSync(join(client, "package.json"), "utf8"));
    expect(manifest.private).toBeUndefined();
    expect(manifest.engines.node).toMatch(/^>=/);
    expect(readdirSync(client).sort()).toEqual(["README.md", "dist", "package.json"].sort());
    expect(readdirSync(join(client, "dist"))).toContain("index.d.ts");
    expect(readdirSync(join(app, "node_modules/@strand/cli")).sort()).toEqual(
      ["README.md", "bin", "dist", "package.json"].sort(),
    );
  });

  it("runs the docs/client.md quick start against the installed `strand server start`", async () => {
    const [client, internal, admin] = await freePorts(3);
    const bin = join(app, "node_modules/.bin/strand");
    const node = spawn(
      bin,
      [
        ...["server", "start", "--exit-with-parent", "--data.dir", join(dir, "data")],
        ...["--listeners.client", `127.0.0.1:${client}`],
        ...["--listeners.internal", `127.0.0.1:${internal}`],
        ...["--listeners.admin", `127.0.0.1:${admin}`],
      ],
      { cwd: app, stdio: ["pipe", "pipe", "pipe"] },
    );
    let log = "";
    node.stdout.on("data", (d: Buffer) => {
      log += d.toString();
    });
    node.stderr.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => node.once("exit", (c) => resolve(c)));
    try {
      await waitFor(
        "the installed node's /readyz",
        async () =>
          (await fetch(`http://127.0.0.1:${admin}/readyz`, { signal: AbortSignal.timeout(2_000) }))
            .status === 200,
        60_000,
        200,
      );
      writeFileSync(join(app, "quickstart.ts"), quickStart());
      const out = execFileSync(process.execPath, ["quickstart.ts"], {
        cwd: app,
        timeout: 60_000,
        env: { PATH: process.env.PATH, STRAND_BROKERS: `127.0.0.1:${client}` },
      }).toString();
      expect(out).toContain("sent to partition 0 at offset 0");
      expect(out).toContain("received k1 = hello, strand");
      node.kill("SIGTERM");
      expect(await exited, log).toBe(0);
    } finally {
      if (node.exitCode === null) node.kill("SIGKILL");
      await exited;
    }
  }, 120_000);
});
