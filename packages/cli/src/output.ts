/**
 * Output helpers: aligned tables for people, JSON for scripts, one-line errors, exit codes.
 *
 * Exit codes (docs/cli.md): 0 success; 1 the operation failed (cluster error, unknown topic,
 * no broker reachable, timeout); 2 wrong usage (unknown command or option, bad value);
 * 3 `cluster health` found the cluster unhealthy.
 */
import { AuthorizationError, StrandClientError, UnknownTopicError } from "@strand/client";
import { UsageError } from "./args.ts";

/** Exit codes of the strand command. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, unhealthy: 3 });

/** A failure the CLI reports as one line with its exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  /** The process exit code. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Aligns rows under headers, two spaces between columns. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** JSON with bigints as numbers (as strings beyond 2^53). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) =>
      typeof v === "bigint"
        ? v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
          ? Number(v)
          : v.toString()
        : v,
    indent,
  );
}

/** Writes a line to stdout. */
export function println(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** The one-line message and exit code for any error. */
export function describeFailure(error: unknown, topic?: string): { message: string; code: number } {
  if (error instanceof CliError) return { message: error.message, code: error.exitCode };
  if (error instanceof UsageError)
    return { message: `${error.message}; see --help`, code: EXIT.usage };
  if (error instanceof UnknownTopicError) {
    const name = error.topic ?? topic;
    return {
      message:
        name === undefined
          ? error.message
          : `topic "${name}" does not exist (create it with: strand topic create ${name})`,
      code: EXIT.failed,
    };
  }
  if (error instanceof AuthorizationError)
    return { message: `not authorized: ${error.message}`, code: EXIT.failed };
  if (error instanceof StrandClientError) return { message: error.message, code: EXIT.failed };
  if (error instanceof RangeError) return { message: error.message, code: EXIT.usage };
  return {
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    code: EXIT.failed,
  };
}

/** Writes `strand: <reason>` as one line to stderr. */
export function printFailure(message: string): void {
  process.stderr.write(`strand: ${message.replace(/\s*\n\s*/g, " ").trim()}\n`);
}
