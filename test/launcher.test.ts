// Goal: nodes never outlive their launcher (scripts/lib/cluster.ts, used by `npm start`, the
// benchmarks and these tests): SIGKILL of the launcher stops every node (its stdin pipe
// closes and --exit-with-parent stops it); SIGTERM to the launcher stops every node and the
// launcher exits 0; the launcher stops its nodes when its own parent dies; `npm start` execs
// node so npm's signal forwarding reaches the launcher, not an intermediate shell.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..");
const fixture = join(repo, "test/fixtures/launcher.ts");
const EXIT_BOUND_MS = 30_000;

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `command` and resolves with the node pids the launcher prints once ready. */
async function launch(
  command: string,
  args: string[],
): Promise<{ child: ChildProcess; pids: number[] }> {
  const root = mkdtempSync(join(tmpdir(), "strand-launcher-"));
  const child = spawn(command, args, { cwd: repo, env: { ...process.env, LAUNCHER_ROOT: root } });
  let out = "";
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n").find((l) => l.startsWith('{"pids"'));
      if (line !== undefined) resolve((JSON.parse(line) as { pids: number[] }).pids);
    });
    child.once("exit", (code) => reject(new Error(`launcher exited ${code}: ${err}`)));
  });
  cleanup.push(() => {
    for (const pid of [child.pid ?? 0, ...pids])
      if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(root, { recursive: true, force: true });
  });
  return { child, pids };
}

const node = process.execPath;
const launcherArgs = ["--conditions=strand-source", fixture];

async function expectAllGone(pids: readonly number[]): Promise<void> {
  await expect
    .poll(() => pids.filter(alive), { timeout: EXIT_BOUND_MS, interval: 100 })
    .toEqual([]);
}

describe("the launcher and its nodes", () => {
  it("nodes stop by themselves when the launcher is SIGKILLed", async () => {
    const { child, pids } = await launch(node, launcherArgs);
    expect(pids).toHaveLength(2);
    child.kill("SIGKILL");
    await expectAllGone(pids);
  });

  it("SIGTERM to the launcher stops every node and the launcher exits 0", async () => {
    const { child, pids } = await launch(node, launcherArgs);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    await expectAllGone(pids);
  });

  it("the launcher stops its nodes when its parent dies", async () => {
    // `sh -c "...; true"` keeps the shell as the launcher's parent (no exec), like npm's shell.
    const { child, pids } = await launch("sh", [
      "-c",
      `"${node}" --conditions=strand-source "${fixture}"; true`,
    ]);
    child.kill("SIGKILL");
    await expectAllGone(pids);
  });

  it("npm start execs node, so npm's SIGTERM/SIGINT forwarding reaches the launcher", () => {
    const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toMatch(/^exec node /);
  });
});
