// Runs the `strand` command as a child process (the TypeScript sources, as `npx strand` does in
// this workspace) with a bound on its time, for the CLI's end-to-end tests.
import { spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "packages/cli/src/main.ts");

/** What one `strand` run printed and how it ended. */
export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs `strand ARGS` with `input` on stdin and STRAND_BROKERS set to `brokers`; the child is
 * killed after `timeoutMs`.
 */
export function runStrand(
  brokers: string,
  args: readonly string[],
  input = "",
  timeoutMs = 20_000,
): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--conditions=strand-source", bin, ...args], {
      cwd: root,
      env: { ...process.env, STRAND_BROKERS: brokers },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(input);
  });
}
