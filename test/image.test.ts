// Goal: deploy/build-image.sh builds the image with buildah and nothing pulled, and the image
// keeps its promises: exec-form `strand server start` entrypoint, non-root UID, OCI labels,
// /data and /tmp the only writable paths, under 150 MB; `strand server start` runs inside it
// (buildah run --isolation chroot), /readyz answers, and SIGTERM to the node process stops it
// cleanly (exit 0). Skipped with a message where buildah is absent or we are not root.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts, waitFor } from "./support/free-ports.ts";

const root = join(import.meta.dirname, "..");
const hasBuildah = spawnSync("buildah", ["--version"]).status === 0;
const isRoot = process.getuid?.() === 0;
if (!hasBuildah || !isRoot) {
  process.stderr.write(
    `image.test.ts: skipped: ${hasBuildah ? "needs root" : "buildah is not installed (apt-get install -y buildah; .ci/run installs it)"}\n`,
  );
}

const tag = `localhost/strand-test:${process.pid}`;
let container = "";

function buildah(args: readonly string[], timeoutMs = 60_000): string {
  return execFileSync("buildah", [...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }).toString();
}

interface ImageConfig {
  User: string;
  Entrypoint: string[];
  Cmd: string[];
  Env: string[];
  Volumes: Record<string, unknown>;
  Labels: Record<string, string>;
}

/** Every descendant pid of `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    for (const child of children ? children.split(" ").map(Number) : []) {
      out.push(child, ...descendants(child));
    }
  }
  return out;
}

describe.skipIf(!hasBuildah || !isRoot)("the container image", () => {
  let config: ImageConfig;

  beforeAll(() => {
    execFileSync(join(root, "deploy/build-image.sh"), [tag], {
      cwd: root,
      timeout: 540_000,
      stdio: ["ignore", "ignore", "inherit"],
    });
    config = JSON.parse(buildah(["inspect", "--type", "image", tag])).OCIv1.config;
    container = buildah(["from", "--pull=never", tag]).trim();
  }, 600_000);

  afterAll(() => {
    if (container) spawnSync("buildah", ["rm", container]);
    spawnSync("buildah", ["rmi", "-f", tag]);
  });

  it("has an exec-form entrypoint, a non-root user, OCI labels and a size under 150 MB", () => {
    expect(config.Entrypoint).toEqual(["/usr/local/bin/strand"]);
    expect(config.Cmd).toEqual(["server", "start"]);
    expect(config.User).toBe("10001:10001");
    expect(Object.keys(config.Volumes)).toEqual(["/data"]);
    for (const label of ["title", "description", "version", "revision", "created", "licenses"]) {
      expect(config.Labels[`org.opencontainers.image.${label}`], label).toBeTruthy();
    }
    const [image] = JSON.parse(buildah(["images", "--json", tag])) as { size: string }[];
    const [value, unit] = image!.size.split(" ");
    const mb = Number(value) * ({ kB: 1e-3, MB: 1, GB: 1e3 } as Record<string, number>)[unit!]!;
    process.stderr.write(`image.test.ts: ${tag} is ${image!.size}\n`);
    expect(mb).toBeLessThan(150);
  });

  it("lets the strand user write /data and /tmp only", () => {
    const probe = [
      "const fs = require('node:fs');",
      "for (const d of ['/data', '/tmp', '/app', '/usr/local/bin', '/etc', '/']) {",
      "  try { fs.writeFileSync(d + '/.w', 'x'); fs.rmSync(d + '/.w'); console.log(d, 'writable'); }",
      "  catch (e) { console.log(d, e.code); } }",
    ].join("\n");
    const out = buildah([
      ...["run", "--isolation", "chroot", "--user", config.User, container],
      ...["--", "/usr/local/bin/node", "-e", probe],
    ]);
    expect(out.trim().split("\n")).toEqual([
      "/data writable",
      "/tmp writable",
      "/app EACCES",
      "/usr/local/bin EACCES",
      "/etc EACCES",
      "/ EACCES",
    ]);
  });

  it("starts `strand server start`, answers /readyz, and stops on SIGTERM to node", async () => {
    const [client, internal, admin] = await freePorts(3);
    const env = [
      `STRAND_LISTENERS_CLIENT=127.0.0.1:${client}`,
      `STRAND_LISTENERS_INTERNAL=127.0.0.1:${internal}`,
      `STRAND_LISTENERS_ADMIN=127.0.0.1:${admin}`,
    ].flatMap((e) => ["--env", e]);
    // The image's own entrypoint and command, as a runtime would run them.
    const run = spawn(
      "buildah",
      [
        ...["run", "--isolation", "chroot", "--user", config.User, ...env, container, "--"],
        ...config.Entrypoint,
        ...config.Cmd,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    run.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    run.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => run.once("exit", (c) => resolve(c)));
    try {
      await waitFor(
        "/readyz = 200 from the node in the image",
        async () =>
          (await fetch(`http://127.0.0.1:${admin}/readyz`, { signal: AbortSignal.timeout(2_000) }))
            .status === 200,
        90_000,
        250,
      );
      // buildah does not forward SIGTERM (it kills its child): signal node itself, as the
      // kubelet's runtime signals PID 1.
      const node = descendants(run.pid!).find((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/exe`).endsWith("/usr/local/bin/node");
        } catch {
          return false;
        }
      });
      expect(node, output).toBeDefined();
      process.kill(node!, "SIGTERM");
      expect(await exited, output).toBe(0);
      expect(output).toContain("node stopped");
    } finally {
      if (run.exitCode === null) run.kill("SIGKILL");
      await exited;
    }
  }, 150_000);
});
