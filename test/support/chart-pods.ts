// Runs a rendered pod's container as a local process, the way the kubelet would: the image's
// entrypoint (`strand`) with the rendered args; the rendered env with fieldRefs resolved and
// $(VAR) references expanded (Kubernetes' rules); the pod's volume at a temp dir; the pod's own
// IP (a loopback address, 127.0.0.N) in place of the 0.0.0.0 binds, as a pod's network
// namespace would give it. Pod and Service DNS names resolve through a hosts file that is
// bind-mounted over /etc/hosts in a private mount namespace of each process (`unshare
// --mount`, root only): the node's real resolver, no code of the node changed. unshare and sh
// exec in place, so the pid is node's and SIGTERM reaches it directly, as in the image.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
const cli = join(root, "packages/cli/src/main.ts");

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}

/** The part of a rendered container this runs. */
export interface ContainerSpec {
  readonly name: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly env?: readonly EnvVar[];
}

/** Where a pod "runs". */
export interface PodPlace {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  /** Host dir for each volume mount path (e.g. /data). */
  readonly mounts: Readonly<Record<string, string>>;
}

/** True when this machine lets us bind-mount a hosts file in a private mount namespace. */
export function canIsolateHosts(hostsFile: string): boolean {
  try {
    const out = execFileSync(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        mountThenExec,
        "sh",
        "cat",
        "/etc/hosts",
      ],
      { env: { PATH: process.env.PATH, STRAND_HOSTS_FILE: hostsFile }, timeout: 10_000 },
    );
    return out.toString() === readFileSync(hostsFile, "utf8");
  } catch {
    return false;
  }
}

const mountThenExec = 'mount --bind "$STRAND_HOSTS_FILE" /etc/hosts && exec "$@"';

/** Writes a hosts file mapping each name to its address. */
export function writeHosts(path: string, names: ReadonlyMap<string, string>): void {
  const lines = ["127.0.0.1 localhost", ...[...names].map(([name, ip]) => `${ip} ${name}`)];
  writeFileSync(path, `${lines.join("\n")}\n`);
}

/** Kubernetes' env: fieldRefs resolved, then $(VAR) expanded against the vars defined before. */
export function containerEnv(c: ContainerSpec, pod: PodPlace): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = expand(v.value, env);
    else env[v.name] = fieldRef(v, pod);
  }
  return env;
}

function fieldRef(v: EnvVar, pod: PodPlace): string {
  const path = v.valueFrom?.fieldRef?.fieldPath;
  if (path === "metadata.name") return pod.name;
  if (path === "metadata.namespace") return pod.namespace;
  if (path === "status.podIP") return pod.ip;
  throw new Error(`env ${v.name}: valueFrom ${JSON.stringify(v.valueFrom)} is not supported here`);
}

/** `$(VAR)` -> its value when defined (else left as is); `$$(VAR)` -> `$(VAR)`. */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name?: string) => {
    if (whole === "$$") return "$";
    return name !== undefined && env[name] !== undefined ? env[name] : whole;
  });
}

/** The pod's view: 0.0.0.0 binds on its own IP, its volumes at host dirs. */
function localize(env: Record<string, string>, pod: PodPlace): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    let v = value.replace(/^0\.0\.0\.0:/, `${pod.ip}:`);
    for (const [mountPath, dir] of Object.entries(pod.mounts))
      if (v === mountPath || v.startsWith(`${mountPath}/`)) v = dir + v.slice(mountPath.length);
    out[name] = v;
  }
  return out;
}

/** A started container process. */
export interface ContainerProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  log(): string;
}

/**
 * Starts `c` of `pod` as a local process: `strand` (the image's entrypoint) with its rendered
 * args, plus `extraArgs` (the tests add only --exit-with-parent, so nothing outlives them).
 */
export function startContainer(
  c: ContainerSpec,
  pod: PodPlace,
  hostsFile: string,
  logDir: string,
  extraArgs: readonly string[] = [],
): ContainerProcess {
  if (c.command !== undefined)
    throw new Error(`${c.name}: the chart must not override the entrypoint`);
  const env = localize(containerEnv(c, pod), pod);
  const args = (c.args ?? []).map((a) => expand(a, env)).map((a) => pod.mounts[a] ?? a);
  const logFile = join(logDir, `${pod.name}-${c.name}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(
    "unshare",
    [
      ...["--mount", "--propagation", "private", "--", "sh", "-c", mountThenExec, "sh"],
      process.execPath,
      "--conditions=strand-source",
      cli,
      ...args,
      ...extraArgs,
    ],
    {
      cwd: root,
      env: { PATH: process.env.PATH, ...env, STRAND_HOSTS_FILE: hostsFile },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      // Let the pipes drain into the log before reporting.
      setTimeout(() => out.end(() => resolve(code ?? signal ?? "unknown")), 50);
    });
  });
  return { child, logFile, exited, log: () => readFileSync(logFile, "utf8") };
}

/** Runs a container to completion (a Job step or a helm test step), bounded by `timeoutMs`. */
export async function runContainer(
  c: ContainerSpec,
  pod: PodPlace,
  hostsFile: string,
  logDir: string,
  timeoutMs = 60_000,
): Promise<{ code: number | string; output: string }> {
  const p = startContainer(c, pod, hostsFile, logDir);
  p.child.stdin?.end();
  const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, output: p.log() };
}

/**
 * Stops the pods' processes (SIGKILL to any still running), waits for them to exit, and
 * removes `dir` (their logs and data) unless STRAND_KEEP is set, for a look after a failure.
 */
export async function stopPods(
  pods: readonly { readonly proc: ContainerProcess }[],
  dir: string,
): Promise<void> {
  for (const p of pods) if (p.proc.child.exitCode === null) p.proc.child.kill("SIGKILL");
  await Promise.all(pods.map((p) => p.proc.exited));
  if (process.env.STRAND_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
}
