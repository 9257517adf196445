/**
 * A small command-line parser (no dependencies): `--name value`, `--name=value`, `-x value`,
 * boolean flags, repeatable options, `--` ends options. Values may start with "-" (e.g.
 * `--throughput -1`), because a string option always takes the next argument. Unknown
 * options and missing values are usage errors (exit 2).
 */

/** One option a command accepts. */
export interface OptionSpec {
  /** Long name without dashes, e.g. "partitions". */
  readonly name: string;
  /** One-letter alias without the dash, e.g. "p". */
  readonly short?: string;
  /** A string option takes a value; a boolean one does not. */
  readonly type: "string" | "boolean";
  /** Whether it may repeat (values collect in order). */
  readonly multiple?: boolean;
  /** What the value looks like in help, e.g. "N" or "key=value". */
  readonly valueName?: string;
  /** One line for --help. */
  readonly description: string;
}

/** Parsed options: string (or string[] when multiple) or true, by long name. */
export type OptionValues = Readonly<Record<string, string | readonly string[] | true | undefined>>;

/** The parse result. */
export interface ParsedArgs {
  /** Options by long name. */
  readonly options: OptionValues;
  /** Arguments that are not options, in order. */
  readonly positionals: readonly string[];
}

/** Wrong usage: unknown flag, missing value, bad number. Exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Parses `argv` against `specs`. */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short !== undefined).map((s) => [s.short!, s]));
  const options: Record<string, string | string[] | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const eq = arg.indexOf("=");
    const name = long
      ? arg.slice(2, eq < 0 ? undefined : eq)
      : arg.slice(1, eq < 0 ? undefined : eq);
    const spec = long ? byLong.get(name) : byShort.get(name);
    if (spec === undefined) throw new UsageError(`unknown option ${long ? "--" : "-"}${name}`);
    let value: string | true;
    if (spec.type === "boolean") {
      if (eq >= 0) throw new UsageError(`option --${spec.name} takes no value`);
      value = true;
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option --${spec.name} needs a value`);
      value = next;
      i++;
    }
    if (spec.multiple === true) {
      const list = options[spec.name];
      options[spec.name] = [...(Array.isArray(list) ? list : []), value as string];
    } else options[spec.name] = value;
  }
  return { options, positionals };
}

/** The string value of an option, or undefined. */
export function str(options: OptionValues, name: string): string | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.at(-1);
  throw new UsageError(`option --${name} needs a value`);
}

/** The values of a repeatable option (empty when absent). */
export function list(options: OptionValues, name: string): readonly string[] {
  const v = options[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [String(v)];
}

/** Whether a boolean flag is set. */
export function flag(options: OptionValues, name: string): boolean {
  return options[name] === true;
}

/** An integer option within [min, max]; `fallback` when absent. */
export function int(
  options: OptionValues,
  name: string,
  range: { readonly min: number; readonly max?: number; readonly fallback?: number },
): number | undefined {
  const raw = str(options, name);
  if (raw === undefined) return range.fallback;
  return parseInteger(raw, `--${name}`, range);
}

/** Parses a decimal integer within [min, max] or throws a UsageError naming `what`. */
export function parseInteger(
  raw: string,
  what: string,
  range: { readonly min: number; readonly max?: number },
): number {
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > max)
    throw new UsageError(
      `${what} must be an integer${range.max === undefined ? ` >= ${range.min}` : ` in [${range.min}, ${max}]`}, got "${raw}"`,
    );
  return n;
}

/** Splits "key=value" (the value may contain "="); throws a UsageError naming `what`. */
export function keyValue(raw: string, what: string): [string, string] {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new UsageError(`${what} takes key=value, got "${raw}"`);
  return [raw.slice(0, eq), raw.slice(eq + 1)];
}

/** Help lines for options. */
export function optionHelp(specs: readonly OptionSpec[]): string[] {
  return specs.map((s) => {
    const names = `${s.short === undefined ? "    " : `-${s.short}, `}--${s.name}${s.type === "string" ? ` ${s.valueName ?? "VALUE"}` : ""}`;
    return `  ${names.padEnd(34)} ${s.description}${s.multiple === true ? " (repeatable)" : ""}`;
  });
}
