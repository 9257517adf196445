/**
 * Splits `strand server start` arguments into setting flags: `--node.id 3`, `--node-id=3`,
 * `--config FILE`, `--help`. Values are kept as text; {@link loadNodeConfig} parses them.
 */
import { ConfigError } from "./load.ts";

/** Result of {@link parseFlags}. */
export interface ParsedFlags {
  /** Setting flags by their name as typed (dots or dashes). */
  readonly flags: Readonly<Record<string, string>>;
  /** `--config FILE`, if given. */
  readonly configFile?: string;
  /** `--help` or `-h` was given. */
  readonly help: boolean;
}

/** Parses argv (without node and script). Throws ConfigError for a flag without a value. */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const flags: Record<string, string> = {};
  let configFile: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"; see --help`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) {
        throw new ConfigError(`flag --${name} needs a value`);
      }
      i += 1;
    }
    if (name === "config") configFile = value;
    else flags[name] = value;
  }
  return configFile === undefined ? { flags, help } : { flags, configFile, help };
}
