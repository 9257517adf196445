/**
 * Loads a node's configuration from its four sources, highest first: command-line flags,
 * `STRAND_*` environment variables, a YAML file, the defaults in {@link SETTINGS}. Every value is
 * parsed and range-checked; a typo'd key in a flag or the file is an error, not a silent default.
 */
import { readFileSync } from "node:fs";
import { isClusterId } from "@strand/controller";
import { type CleanupPolicy, parseCleanupPolicy } from "@strand/storage";
import { parse as parseYaml } from "yaml";
import { SETTINGS, type SettingSpec, settingSpec } from "./settings.ts";

/** A host and port. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One controller quorum voter. */
export interface Voter extends HostPort {
  readonly id: number;
  /** Its metadata directory id (KIP-853), when given as `id@host:port:uuid`. */
  readonly dir?: string;
}

/** The role names of `process.roles`. */
export type NodeRole = "broker" | "controller";

/** pino's level names. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** Client certificates on a TLS listener: not asked for, asked for, or required (mTLS). */
export type ClientAuth = "none" | "requested" | "required";

/** A way clients authenticate on the client listener (`authentication.mechanisms`). */
export type AuthMechanism = "mtls" | "scram" | "jwt";

/** A parsed setting value. */
export type SettingValue =
  | number
  | boolean
  | string
  | HostPort
  | readonly NodeRole[]
  | readonly AuthMechanism[]
  | readonly Voter[]
  | readonly string[];

/** The resolved configuration of one node: every setting of {@link SETTINGS}, typed. */
export interface NodeConfig {
  readonly nodeId: number;
  readonly nodeIdFromHostname: boolean;
  readonly nodeIdOffset: number;
  readonly roles: readonly NodeRole[];
  readonly dataDir: string;
  readonly clientListener: HostPort;
  readonly internalListener: HostPort;
  readonly adminListener: HostPort;
  readonly listenersClientTlsCertFile: string;
  readonly listenersClientTlsKeyFile: string;
  readonly listenersClientTlsCaFile: string;
  readonly listenersClientTlsClientAuth: ClientAuth;
  readonly listenersInternalTlsCertFile: string;
  readonly listenersInternalTlsKeyFile: string;
  readonly listenersInternalTlsCaFile: string;
  readonly listenersAdminTlsCertFile: string;
  readonly listenersAdminTlsKeyFile: string;
  readonly listenersAdminTlsCaFile: string;
  readonly listenersAdminTlsClientAuth: ClientAuth;
  readonly tlsReloadIntervalMs: number;
  readonly authenticationMechanisms: readonly AuthMechanism[];
  readonly authenticationAnonymousEnable: boolean;
  readonly authenticationSessionLifetimeMs: number;
  readonly authenticationSessionsMax: number;
  readonly authenticationJwtJwksFile: string;
  readonly authenticationJwtIssuer: string;
  readonly authenticationJwtAudience: string;
  readonly authenticationJwtPrincipalClaim: string;
  readonly authenticationJwtClockSkewMs: number;
  /** `authorizer`: none (allow everything) or acl. */
  readonly authorizer: "none" | "acl";
  /** `super.users`: principal names, e.g. `User:admin`. */
  readonly superUsers: readonly string[];
  readonly advertisedClient: HostPort;
  readonly advertisedInternal: HostPort;
  readonly controllerVoters: readonly Voter[];
  readonly connectionsMaxIdleMs: number;
  readonly connectionsMax: number;
  readonly connectionsPerPeerMax: number;
  readonly connectionsHandshakeTimeoutMs: number;
  readonly subscribeStreamsMax: number;
  readonly subscribeStreamsPerConnectionMax: number;
  readonly logOpenHandlesMax: number;
  readonly logTailCacheBytes: number;
  readonly fileDescriptorsReserve: number;
  /** `cluster.id`: the id to format the metadata dir with; "" when not configured. */
  readonly clusterId: string;
  readonly defaultReplicationFactor: number;
  readonly numPartitions: number;
  readonly maxPartitionsPerBroker: number;
  readonly minInsyncReplicas: number;
  readonly uncleanLeaderElectionEnable: boolean;
  readonly replicaLagTimeMaxMs: number;
  readonly replicaFetchMaxWaitMs: number;
  readonly brokerHeartbeatIntervalMs: number;
  readonly brokerSessionTimeoutMs: number;
  readonly controllerTickMs: number;
  readonly requestTimeoutMs: number;
  readonly messageMaxBytes: number;
  readonly socketRequestMaxBytes: number;
  readonly logSegmentBytes: number;
  readonly logRetentionMs: number;
  readonly logRetentionBytes: number;
  readonly logRetentionCheckIntervalMs: number;
  readonly offsetsTopicNumPartitions: number;
  readonly offsetsTopicReplicationFactor: number;
  readonly offsetsTopicSegmentBytes: number;
  readonly offsetsRetentionMinutes: number;
  readonly groupConsumerSessionTimeoutMs: number;
  readonly groupConsumerHeartbeatIntervalMs: number;
  readonly groupConsumerMaxSize: number;
  readonly logCleanupPolicy: CleanupPolicy;
  readonly logCleanerMinCleanableRatio: number;
  readonly logCleanerMinCompactionLagMs: number;
  readonly logCleanerDeleteRetentionMs: number;
  readonly logCleanerEnable: boolean;
  readonly logCleanerBackoffMs: number;
  readonly logCleanerDedupeBufferSize: number;
  readonly logCleanerIoMaxBytesPerSecond: number;
  readonly shutdownTimeoutMs: number;
  readonly shutdownDrainTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly metricsPartitionEnable: boolean;
  /** Where each setting's value came from, by dotted key. */
  readonly sources: ReadonlyMap<string, SettingSource>;
}

/**
 * Where a setting's value came from: a flag, the environment, the file, the default, or (for
 * `node.id` with `node.id.from.hostname`) the host name's ordinal.
 */
export type SettingSource = "flag" | "env" | "file" | "default" | "hostname";

/** Bad configuration: names the setting, the source and what is allowed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Inputs to {@link loadNodeConfig}; all optional so tests can pass only what they need. */
export interface ConfigSources {
  /** `--key value` / `--key=value` pairs already split out of argv (keys without dashes). */
  readonly flags?: Readonly<Record<string, string>>;
  /** Environment, normally process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Path of a YAML file (flat dotted keys or nested maps). */
  readonly configFile?: string;
  /**
   * The host name `node.id.from.hostname` reads; the CLI passes `$HOSTNAME` (which the
   * container runtime sets to the pod name) or else the system's host name.
   */
  readonly hostname?: string;
}

/** `node.id` -> `STRAND_NODE_ID`. */
export function envName(key: string): string {
  return `STRAND_${key.toUpperCase().replace(/[.-]/g, "_")}`;
}

/** Loads, merges and parses every setting. Throws {@link ConfigError} on the first problem. */
export function loadNodeConfig(sources: ConfigSources = {}): NodeConfig {
  const file = sources.configFile ? readConfigFile(sources.configFile) : {};
  const texts = new Map<string, { text: string; source: SettingSource }>();
  for (const spec of SETTINGS) {
    const picked = pickText(spec, sources, file);
    if (picked) texts.set(spec.key, picked);
  }
  for (const key of Object.keys(sources.flags ?? {})) {
    if (!settingSpec(normalizeKey(key))) throw new ConfigError(`unknown flag --${key}; see --help`);
  }
  const values = new Map<string, SettingValue>();
  const origin = new Map<string, SettingSource>();
  for (const spec of SETTINGS) {
    const picked = texts.get(spec.key);
    if (!picked) continue;
    values.set(spec.key, parseSetting(spec, picked.text, picked.source));
    origin.set(spec.key, picked.source);
  }
  deriveNodeId(values, origin, sources.hostname);
  expandNodeIdInFiles(values);
  deriveDefaults(values, origin);
  checkCrossSettings(values, origin);
  return toNodeConfig(values, origin);
}

/** Dotted key -> camelCase field: `min.insync.replicas` -> `minInsyncReplicas`. */
export function fieldName(key: string): string {
  const renamed: Record<string, string> = {
    "process.roles": "roles",
    "listeners.client": "clientListener",
    "listeners.internal": "internalListener",
    "listeners.admin": "adminListener",
    "controller.quorum.voters": "controllerVoters",
  };
  return renamed[key] ?? key.replace(/[.-]([a-z])/g, (_, c: string) => c.toUpperCase());
}

function toNodeConfig(
  values: Map<string, SettingValue>,
  origin: Map<string, SettingSource>,
): NodeConfig {
  const fields: Record<string, SettingValue | ReadonlyMap<string, SettingSource>> = {};
  for (const spec of SETTINGS) {
    const value = values.get(spec.key);
    if (value === undefined) throw new ConfigError(`setting ${spec.key} has no value`);
    fields[fieldName(spec.key)] = value;
  }
  fields.sources = origin;
  return fields as unknown as NodeConfig;
}

function pickText(
  spec: SettingSpec,
  sources: ConfigSources,
  file: Record<string, string>,
): { text: string; source: SettingSource } | undefined {
  const flags = sources.flags ?? {};
  const flag = flags[spec.key] ?? flags[spec.key.replace(/\./g, "-")];
  if (flag !== undefined) return { text: flag, source: "flag" };
  const env = sources.env?.[envName(spec.key)];
  if (env !== undefined && env !== "") return { text: env, source: "env" };
  const fromFile = file[spec.key];
  if (fromFile !== undefined) return { text: fromFile, source: "file" };
  if (spec.defaultText !== null) return { text: spec.defaultText, source: "default" };
  return undefined;
}

/** `node-id` and `node.id` name the same setting. */
function normalizeKey(key: string): string {
  if (settingSpec(key)) return key;
  return SETTINGS.find((s) => s.key.replace(/\./g, "-") === key)?.key ?? key;
}

function readConfigFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must be a YAML map of settings`);
  }
  const flat: Record<string, string> = {};
  flatten(parsed as Record<string, unknown>, "", flat, path);
  return flat;
}

function flatten(
  node: Record<string, unknown>,
  prefix: string,
  out: Record<string, string>,
  path: string,
): void {
  for (const [name, value] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, key, out, path);
      continue;
    }
    if (!settingSpec(key)) throw new ConfigError(`unknown setting "${key}" in ${path}`);
    out[key] = Array.isArray(value) ? value.map(String).join(",") : String(value);
  }
}

/** Parses one setting's text by its kind; errors name the key and the source. */
export function parseSetting(spec: SettingSpec, text: string, source: SettingSource): SettingValue {
  const where = `${spec.key} (from ${source})`;
  const value = text.trim();
  switch (spec.kind) {
    case "integer":
      return parseInteger(
        where,
        value,
        spec.min ?? Number.NEGATIVE_INFINITY,
        spec.max ?? Number.POSITIVE_INFINITY,
      );
    case "boolean":
      if (value === "true" || value === "false") return value === "true";
      throw new ConfigError(`${where} must be true or false, got "${text}"`);
    case "string":
      if (value.length === 0) throw new ConfigError(`${where} must not be empty`);
      return value;
    case "address":
      return parseHostPort(where, value);
    case "roles":
      return parseRoles(where, value);
    case "voters":
      return parseVoters(where, value);
    case "cluster-id":
      if (isClusterId(value)) return value;
      throw new ConfigError(
        `${where} must be 22 base64url characters (e.g. from \`strand cluster new-id\`), got "${text}"`,
      );
    case "log-level":
      return parseLogLevel(where, value);
    case "cleanup-policy": {
      const policy = parseCleanupPolicy(value);
      if (policy !== undefined) return policy;
      throw new ConfigError(`${where} must be delete, compact or compact,delete, got "${text}"`);
    }
    case "file":
      // Empty means "not set": TLS stays off on that listener.
      return value;
    case "client-auth":
      if (value === "none" || value === "requested" || value === "required") return value;
      throw new ConfigError(`${where} must be none, requested or required, got "${text}"`);
    case "text":
      return value;
    case "auth-mechanisms":
      return parseMechanisms(where, value);
    case "authorizer":
      if (value === "none" || value === "acl") return value;
      throw new ConfigError(`${where} must be none or acl, got "${text}"`);
    case "principals":
      return parsePrincipals(where, value);
    case "ratio":
      if (/^\d+(\.\d+)?$/.test(value) && Number(value) <= 1) return Number(value);
      throw new ConfigError(`${where} must be a number between 0 and 1, got "${text}"`);
  }
}

/** The comma list of `authentication.mechanisms`, each known and once. */
function parseMechanisms(where: string, text: string): readonly AuthMechanism[] {
  const names = text === "" ? [] : text.split(",").map((m) => m.trim());
  const bad = names.filter((m) => m !== "mtls" && m !== "scram" && m !== "jwt");
  if (bad.length > 0 || new Set(names).size !== names.length)
    throw new ConfigError(`${where} must be a list of mtls, scram, jwt, got "${text}"`);
  return names as AuthMechanism[];
}

/** `User:a,User:b` (or `;`-separated, as Kafka's super.users) -> the list; "" -> none. */
function parsePrincipals(where: string, text: string): readonly string[] {
  const names = text
    .split(/[,;]/)
    .map((p) => p.trim())
    .filter((p) => p !== "");
  for (const name of names) {
    if (!/^(User:[^\s]+|Node:\d+)$/.test(name))
      throw new ConfigError(`${where}: "${name}" is not a principal like User:admin or Node:1`);
  }
  return names;
}

function parseInteger(where: string, text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text)) throw new ConfigError(`${where} must be an integer, got "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${where} must be between ${min} and ${max}, got ${text}`);
  }
  return n;
}

/** Parses `host:port` (IPv6 as `[::1]:9092`). */
export function parseHostPort(where: string, text: string): HostPort {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) {
    throw new ConfigError(`${where} must be host:port with a port of 0-65535, got "${text}"`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

function parseRoles(where: string, text: string): readonly NodeRole[] {
  const roles = [...new Set(text.split(",").map((r) => r.trim()))];
  const bad = roles.filter((r) => r !== "broker" && r !== "controller");
  if (roles.length === 0 || bad.length > 0) {
    throw new ConfigError(`${where} must be broker, controller or both, got "${text}"`);
  }
  return roles as NodeRole[];
}

function parseVoters(where: string, text: string): readonly Voter[] {
  const voters = text.split(",").map((part): Voter => {
    const match =
      /^(\d+)@(.+?)(?::([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))?$/.exec(
        part.trim(),
      );
    if (!match) throw new ConfigError(`${where}: "${part}" is not id@host:port[:directory-uuid]`);
    const voter = { id: Number(match[1]), ...parseHostPort(where, match[2]!) };
    return match[3] === undefined ? voter : { ...voter, dir: match[3] };
  });
  const zero = voters.find((v) => v.id < 1);
  if (zero)
    throw new ConfigError(`${where}: voter id ${zero.id} is invalid; Raft voter ids start at 1`);
  const ids = voters.map((v) => v.id);
  if (new Set(ids).size !== ids.length) throw new ConfigError(`${where} lists a voter id twice`);
  return voters;
}

function parseLogLevel(where: string, text: string): LogLevel {
  const levels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
  if (!levels.includes(text)) throw new ConfigError(`${where} must be one of ${levels.join(", ")}`);
  return text as LogLevel;
}

/**
 * `node.id.from.hostname`: a StatefulSet pod learns its id from its ordinal (`strand-2` ->
 * offset + 2), so one pod template serves every node. Setting node.id as well is refused
 * rather than letting one silently win.
 */
function deriveNodeId(
  values: Map<string, SettingValue>,
  origin: Map<string, SettingSource>,
  hostname: string | undefined,
): void {
  if (values.get("node.id.from.hostname") !== true) return;
  if (origin.get("node.id") !== "default") {
    throw new ConfigError(
      `node.id (from ${origin.get("node.id")}) and node.id.from.hostname exclude each other; set one`,
    );
  }
  const name = (hostname ?? "").split(".")[0] ?? "";
  const match = /-(\d+)$/.exec(name);
  if (!match) {
    throw new ConfigError(
      `node.id.from.hostname: host name "${hostname ?? ""}" does not end in -<ordinal> (like a StatefulSet pod, strand-0)`,
    );
  }
  const id = (values.get("node.id.offset") as number) + Number(match[1]);
  if (!Number.isSafeInteger(id) || id > 2 ** 31 - 1) {
    throw new ConfigError(
      `node.id.from.hostname: node.id.offset + ordinal ${match[1]} is too large`,
    );
  }
  values.set("node.id", id);
  origin.set("node.id", "hostname");
}

/** The placeholder a file setting may carry for the node's id (see {@link expandNodeIdInFiles}). */
export const NODE_ID_PLACEHOLDER = "{node.id}";

/**
 * Replaces {@link NODE_ID_PLACEHOLDER} in every file setting with node.id, so one pod template
 * (a StatefulSet, whose node ids come from the host name) can name each node's own
 * certificate: `/etc/strand/tls/node-{node.id}.crt`.
 */
function expandNodeIdInFiles(values: Map<string, SettingValue>): void {
  const id = String(values.get("node.id"));
  for (const spec of SETTINGS) {
    const value = values.get(spec.key);
    if (spec.kind !== "file" || typeof value !== "string") continue;
    if (value.includes(NODE_ID_PLACEHOLDER))
      values.set(spec.key, value.replaceAll(NODE_ID_PLACEHOLDER, id));
  }
}

function deriveDefaults(
  values: Map<string, SettingValue>,
  origin: Map<string, SettingSource>,
): void {
  const derive = (key: string, value: SettingValue) => {
    if (values.has(key)) return;
    values.set(key, value);
    origin.set(key, "default");
  };
  derive("data.dir", `./.strand/node-${values.get("node.id")}`);
  derive("advertised.client", values.get("listeners.client")!);
  derive("advertised.internal", values.get("listeners.internal")!);
  // Room for one largest batch plus a request's worth of smaller ones; compressed requests are
  // measured inflated, so this is also what a small gzip request may grow to in memory.
  derive(
    "socket.request.max.bytes",
    Math.min((values.get("message.max.bytes") as number) + 16 * 1024 * 1024, 100 * 1024 * 1024),
  );
  const internal = values.get("advertised.internal") as HostPort;
  derive("controller.quorum.voters", [{ id: values.get("node.id") as number, ...internal }]);
  derive("cluster.id", "");
  // Most of the budget moves leaderships and finishes in-flight calls; the rest closes logs
  // cleanly so the next start needs no recovery scan.
  derive(
    "shutdown.drain.timeout.ms",
    Math.floor((values.get("shutdown.timeout.ms") as number) * 0.8),
  );
}

/** `0.0.0.0` / `::`: a bind address, never one another process can dial. */
function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

function checkCrossSettings(
  values: Map<string, SettingValue>,
  origin: Map<string, SettingSource>,
): void {
  for (const name of ["client", "internal"]) {
    const advertised = values.get(`advertised.${name}`) as HostPort;
    if (isWildcard(advertised.host)) {
      const derived = origin.get(`advertised.${name}`) === "default";
      throw new ConfigError(
        derived
          ? `listeners.${name} binds to ${advertised.host}: set advertised.${name} to the host:port others dial (e.g. the pod's DNS name)`
          : `advertised.${name} must be an address others can dial, not ${advertised.host}`,
      );
    }
  }
  checkTlsSettings(values);
  const drain = values.get("shutdown.drain.timeout.ms") as number;
  const total = values.get("shutdown.timeout.ms") as number;
  if (drain >= total) {
    throw new ConfigError(
      `shutdown.drain.timeout.ms (${drain}) must be below shutdown.timeout.ms (${total}): the rest closes the logs`,
    );
  }
  const roles = values.get("process.roles") as readonly NodeRole[];
  const voters = values.get("controller.quorum.voters") as readonly Voter[];
  const id = values.get("node.id") as number;
  if (roles.includes("controller") && id < 1) {
    throw new ConfigError(
      `node.id ${id} cannot have the controller role: Raft voter ids start at 1 (with node.id.from.hostname, keep node.id.offset at 1 or more)`,
    );
  }
  if (roles.includes("controller") && !voters.some((v) => v.id === id)) {
    throw new ConfigError(
      `node ${id} has the controller role but is not in controller.quorum.voters; add ${id}@host:port`,
    );
  }
  const heartbeat = values.get("broker.heartbeat.interval.ms") as number;
  const session = values.get("broker.session.timeout.ms") as number;
  if (session <= heartbeat) {
    throw new ConfigError(
      `broker.session.timeout.ms (${session}) must exceed broker.heartbeat.interval.ms (${heartbeat})`,
    );
  }
  const groupHeartbeat = values.get("group.consumer.heartbeat.interval.ms") as number;
  const groupSession = values.get("group.consumer.session.timeout.ms") as number;
  if (groupSession <= groupHeartbeat) {
    throw new ConfigError(
      `group.consumer.session.timeout.ms (${groupSession}) must exceed group.consumer.heartbeat.interval.ms (${groupHeartbeat})`,
    );
  }
}

/**
 * A TLS listener needs its certificate and key together; client certificates can only be
 * verified against a CA; the internal listener always verifies its peers (mTLS between nodes).
 */
function checkTlsSettings(values: Map<string, SettingValue>): void {
  for (const name of ["client", "internal", "admin"]) {
    const at = `listeners.${name}.tls`;
    const cert = values.get(`${at}.cert.file`) !== "";
    const key = values.get(`${at}.key.file`) !== "";
    const ca = values.get(`${at}.ca.file`) !== "";
    if (cert !== key)
      throw new ConfigError(`${at}.cert.file and ${at}.key.file must be set together`);
    const auth =
      name === "internal" ? (cert ? "required" : "none") : values.get(`${at}.client.auth`);
    if (auth !== "none" && !cert)
      throw new ConfigError(`${at}.client.auth=${String(auth)} needs TLS on: set ${at}.cert.file`);
    if (auth !== "none" && !ca)
      throw new ConfigError(
        name === "internal"
          ? `${at}.ca.file must be set with internal TLS: nodes verify each other's certificates against it`
          : `${at}.client.auth=${String(auth)} needs ${at}.ca.file to verify client certificates`,
      );
  }
}
