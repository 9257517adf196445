/**
 * The child process of a crash test (a fixture that appends or cleans a log and reports its
 * progress a line at a time on stdout), which the test SIGKILLs at a moment it picks.
 */
import { type ChildProcess, spawn } from "node:child_process";

/**
 * Runs `node --conditions=strand-source script ...args`, handing each stdout line to `onLine`
 * (which may schedule {@link sigkill}); resolves once the child exited, rejects with
 * `hungMessage` if it has not within `hungMs`, and never leaves it running.
 */
export async function runCrashChild(
  script: string,
  args: readonly string[],
  onLine: (line: string, child: ChildProcess) => void,
  hungMs: number,
  hungMessage: string,
): Promise<void> {
  const child = spawn(process.execPath, ["--conditions=strand-source", script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buffered = "";
  const exited = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(hungMessage)), hungMs);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) onLine(line, child);
  });
  try {
    await exited;
  } finally {
    sigkill(child);
  }
}

/** SIGKILLs `child` unless it already exited. */
export function sigkill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
