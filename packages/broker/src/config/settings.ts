/**
 * The node settings table: every setting a Strand node reads, its kind, default and meaning.
 * Names follow Kafka's (`node.id`, `min.insync.replicas`, ...) so operators' knowledge carries
 * over. docs/configuration.md renders this table; a test fails when they disagree.
 */

/** How a setting's text is parsed. */
export type SettingKind =
  | "integer"
  | "boolean"
  | "string"
  | "address"
  | "roles"
  | "voters"
  | "cluster-id"
  | "log-level"
  | "cleanup-policy"
  | "ratio"
  | "file"
  | "client-auth"
  | "text"
  | "auth-mechanisms"
  | "authorizer"
  | "principals";

/** One row of the settings table. */
export interface SettingSpec {
  /** Dotted, Kafka-style name, e.g. `min.insync.replicas`. */
  readonly key: string;
  /** How the value is parsed and checked. */
  readonly kind: SettingKind;
  /** Default as text, or null when derived from other settings (see `derived`). */
  readonly defaultText: string | null;
  /** How a derived default is computed, for the docs. */
  readonly derived?: string;
  /** Inclusive bounds for integers. */
  readonly min?: number;
  readonly max?: number;
  /** What it does, one sentence. */
  readonly description: string;
}

const INT32_MAX = 2 ** 31 - 1;
const MS_MAX = Number.MAX_SAFE_INTEGER;

function setting(spec: SettingSpec): SettingSpec {
  return Object.freeze(spec);
}

/** Every node setting, in documentation order. */
export const SETTINGS: readonly SettingSpec[] = Object.freeze([
  setting({
    key: "node.id",
    kind: "integer",
    defaultText: "1",
    min: 0,
    max: INT32_MAX,
    description: "This node's id, unique in the cluster; also its Raft voter id.",
  }),
  setting({
    key: "node.id.from.hostname",
    kind: "boolean",
    defaultText: "false",
    description:
      "Derive node.id from the ordinal that ends the host name (a StatefulSet pod `strand-2` is node node.id.offset + 2, node 3 by default); the host name is $HOSTNAME, else the system's. Excludes setting node.id.",
  }),
  setting({
    key: "node.id.offset",
    kind: "integer",
    defaultText: "1",
    min: 0,
    max: INT32_MAX,
    description:
      "Added to the host name's ordinal by node.id.from.hostname: 1 by default, since ordinals start at 0 and a controller voter's id at 1; a second StatefulSet (brokers beside a controller set) takes an offset past the first's ids.",
  }),
  setting({
    key: "process.roles",
    kind: "roles",
    defaultText: "broker,controller",
    description: "Roles of this node: broker, controller, or both (combined mode).",
  }),
  setting({
    key: "data.dir",
    kind: "string",
    defaultText: null,
    derived: "./.strand/node-<node.id>",
    description:
      "Directory for partition logs and the metadata log; locked by one process at a time.",
  }),
  setting({
    key: "listeners.client",
    kind: "address",
    defaultText: "127.0.0.1:9092",
    description: "host:port of the client gRPC listener (produce, fetch, metadata, admin).",
  }),
  setting({
    key: "listeners.internal",
    kind: "address",
    defaultText: "127.0.0.1:9093",
    description: "host:port of the internal gRPC listener (Raft, registration, replica fetch).",
  }),
  setting({
    key: "listeners.admin",
    kind: "address",
    defaultText: "127.0.0.1:9644",
    description: "host:port of the admin HTTP listener (/metrics, /healthz, /readyz).",
  }),
  setting({
    key: "listeners.client.tls.cert.file",
    kind: "file",
    defaultText: "",
    description:
      "PEM certificate (chain) of the client gRPC listener; setting it turns TLS on there (empty: plaintext). Re-read every tls.reload.interval.ms, so a renewed certificate needs no restart.",
  }),
  setting({
    key: "listeners.client.tls.key.file",
    kind: "file",
    defaultText: "",
    description: "PEM private key of listeners.client.tls.cert.file; required with it.",
  }),
  setting({
    key: "listeners.client.tls.ca.file",
    kind: "file",
    defaultText: "",
    description:
      "PEM CA certificate(s) that client certificates must chain to when listeners.client.tls.client.auth is requested or required.",
  }),
  setting({
    key: "listeners.client.tls.client.auth",
    kind: "client-auth",
    defaultText: "none",
    description:
      "Client certificates on the client gRPC listener with TLS on: none (they name no user; with internal TLS on, certificates are still asked for and checked against the cluster CA so brokers forwarding requests are recognised as nodes), requested (asked for but not enforced: a connection without one, or with one the CA does not verify, is accepted, and only a verified one names a user) or required (mTLS: a connection without a certificate from listeners.client.tls.ca.file is refused in the handshake).",
  }),
  setting({
    key: "listeners.internal.tls.cert.file",
    kind: "file",
    defaultText: "",
    description:
      "PEM certificate (chain) of the internal gRPC listener (Raft, controller RPCs, replication); also the identity this node presents to other nodes, so its certificate must name the node (SAN URI strand:node:<node.id>); setting it turns TLS on there (empty: plaintext). Re-read every tls.reload.interval.ms, so a renewed certificate needs no restart.",
  }),
  setting({
    key: "listeners.internal.tls.key.file",
    kind: "file",
    defaultText: "",
    description: "PEM private key of listeners.internal.tls.cert.file; required with it.",
  }),
  setting({
    key: "listeners.internal.tls.ca.file",
    kind: "file",
    defaultText: "",
    description:
      "PEM CA certificate(s) that sign every node certificate: the internal listener requires a client certificate from them (mTLS), and nodes verify each other (Raft, replication, controller RPCs, forwarding) against them. Required when internal TLS is on.",
  }),
  setting({
    key: "listeners.admin.tls.cert.file",
    kind: "file",
    defaultText: "",
    description:
      "PEM certificate (chain) of the admin HTTPS listener; setting it turns TLS on there (empty: plaintext). Re-read every tls.reload.interval.ms, so a renewed certificate needs no restart.",
  }),
  setting({
    key: "listeners.admin.tls.key.file",
    kind: "file",
    defaultText: "",
    description: "PEM private key of listeners.admin.tls.cert.file; required with it.",
  }),
  setting({
    key: "listeners.admin.tls.ca.file",
    kind: "file",
    defaultText: "",
    description:
      "PEM CA certificate(s) that client certificates must chain to when listeners.admin.tls.client.auth is requested or required.",
  }),
  setting({
    key: "listeners.admin.tls.client.auth",
    kind: "client-auth",
    defaultText: "none",
    description:
      "Client certificates on the admin HTTPS listener with TLS on: none (not asked for), requested (asked for but not enforced: a connection without one, or with one the CA does not verify, is accepted) or required (mTLS: a connection without a certificate from listeners.admin.tls.ca.file is refused in the handshake).",
  }),
  setting({
    key: "authorizer",
    kind: "authorizer",
    defaultText: "none",
    description:
      "Who may do what on the client listener: none (everyone may do everything; development) or acl (deny by default: only super.users, cluster nodes and principals allowed by an ACL of the metadata log, managed with `strand acl`; docs/security.md).",
  }),
  setting({
    key: "super.users",
    kind: "principals",
    defaultText: "",
    description:
      "Principals allowed everything when authorizer=acl, comma- or semicolon-separated, e.g. User:admin (a client certificate's CN names User:<CN>).",
  }),
  setting({
    key: "tls.reload.interval.ms",
    kind: "integer",
    defaultText: "10000",
    min: 100,
    max: MS_MAX,
    description:
      "How often the TLS certificate, key and CA files of every listener are re-read; a change (a valid certificate and matching key) applies to new connections without a restart.",
  }),
  setting({
    key: "authentication.mechanisms",
    kind: "auth-mechanisms",
    defaultText: "mtls,scram,jwt",
    description:
      "How clients may authenticate on the client listener, a comma list of mtls (a client certificate the CA verified; its CN is the user), scram (SCRAM-SHA-512 login through AuthService, then a session token) and jwt (a bearer token checked against authentication.jwt.jwks.file). Credentials are refused on a plaintext listener.",
  }),
  setting({
    key: "authentication.anonymous.enable",
    kind: "boolean",
    defaultText: "true",
    description:
      "Whether a call without credentials is served (as User:ANONYMOUS) on the client listener; false refuses it UNAUTHENTICATED. The default keeps a development cluster usable with nothing configured.",
  }),
  setting({
    key: "authentication.session.lifetime.ms",
    kind: "integer",
    defaultText: "3600000",
    min: 1000,
    max: MS_MAX,
    description:
      "How long a SCRAM session token is valid after the login; the SDK logs in again when it expires. Sessions live in the memory of the broker that issued them.",
  }),
  setting({
    key: "authentication.sessions.max",
    kind: "integer",
    defaultText: "10000",
    min: 1,
    max: INT32_MAX,
    description:
      "Most live SCRAM sessions per broker; a login beyond it evicts the session that expires first.",
  }),
  setting({
    key: "authentication.jwt.jwks.file",
    kind: "file",
    defaultText: "",
    description:
      "JSON Web Key Set file (RSA and EC P-256 public keys with kid) that JWT bearer tokens are verified against (RS256, ES256 only); empty: bearer tokens are refused. Re-read every tls.reload.interval.ms.",
  }),
  setting({
    key: "authentication.jwt.issuer",
    kind: "text",
    defaultText: "",
    description: "The iss claim a bearer token must carry; empty: not checked.",
  }),
  setting({
    key: "authentication.jwt.audience",
    kind: "text",
    defaultText: "",
    description: "A value the token's aud claim must contain; empty: not checked.",
  }),
  setting({
    key: "authentication.jwt.principal.claim",
    kind: "string",
    defaultText: "sub",
    description: "The claim that names the user of a bearer token (User:<claim value>).",
  }),
  setting({
    key: "authentication.jwt.clock.skew.ms",
    kind: "integer",
    defaultText: "30000",
    min: 0,
    max: 600000,
    description: "Tolerance of exp and nbf for clocks that disagree.",
  }),
  setting({
    key: "advertised.client",
    kind: "address",
    defaultText: null,
    derived: "listeners.client",
    description: "Client address other nodes and clients are told to use for this node.",
  }),
  setting({
    key: "advertised.internal",
    kind: "address",
    defaultText: null,
    derived: "listeners.internal",
    description: "Internal address other nodes use to reach this node.",
  }),
  setting({
    key: "controller.quorum.voters",
    kind: "voters",
    defaultText: null,
    derived: "<node.id>@<advertised.internal> (a single-node quorum)",
    description:
      "The controller quorum: id@host:port[:directory-uuid] of every voter's internal listener, comma-separated.",
  }),
  setting({
    key: "connections.max.idle.ms",
    kind: "integer",
    defaultText: "600000",
    min: 100,
    max: MS_MAX,
    description:
      "The client listener closes a connection with no call in flight for this long, so idle connections cannot exhaust file descriptors.",
  }),
  setting({
    key: "connections.max",
    kind: "integer",
    defaultText: "10000",
    min: 1,
    max: INT32_MAX,
    description:
      "Open connections the client listener holds at once; a connection beyond it is closed as it is accepted.",
  }),
  setting({
    key: "connections.per.peer.max",
    kind: "integer",
    defaultText: "1000",
    min: 1,
    max: INT32_MAX,
    description:
      "Open connections one client address may hold on the client listener; one more is closed as it is accepted.",
  }),
  setting({
    key: "connections.handshake.timeout.ms",
    kind: "integer",
    defaultText: "10000",
    min: 100,
    max: MS_MAX,
    description:
      "The client listener closes a connection that has sent no byte for this long after it was accepted (idle sockets that never speak HTTP/2).",
  }),
  setting({
    key: "subscribe.streams.max",
    kind: "integer",
    defaultText: "1000",
    min: 1,
    max: INT32_MAX,
    description:
      "Open Subscribe streams this broker serves at once; one more is refused with RESOURCE_EXHAUSTED.",
  }),
  setting({
    key: "subscribe.streams.per.connection.max",
    kind: "integer",
    defaultText: "100",
    min: 1,
    max: INT32_MAX,
    description:
      "Open Subscribe streams one client connection may hold; one more is refused with RESOURCE_EXHAUSTED.",
  }),
  setting({
    key: "file.descriptors.reserve",
    kind: "integer",
    defaultText: "256",
    min: 0,
    max: INT32_MAX,
    description:
      "File descriptors kept for Raft and storage: beyond the process limit minus this, the client listener refuses new calls with RESOURCE_EXHAUSTED (0 = no check; Linux only).",
  }),
  setting({
    key: "log.open.handles.max",
    kind: "integer",
    defaultText: "4000",
    min: 1,
    max: INT32_MAX,
    description:
      "Open .log files of segments over all partitions, active ones included (the least recently used idle one is closed beyond it, after an fsync when it has unflushed appends; index files are open only while written).",
  }),
  setting({
    key: "log.tail.cache.bytes",
    kind: "integer",
    defaultText: "67108864",
    min: 0,
    max: INT32_MAX,
    description:
      "Memory for the tail cache over all partitions: the most recently appended batches of each partition's active segment, from which follower replica fetches and consumers at the tail are answered without a file read (a miss reads the log). Shared fairly: a partition over capacity / partitions-with-data drops its own oldest batches first, then the oldest of any partition goes. 0 turns it off.",
  }),
  setting({
    key: "cluster.id",
    kind: "cluster-id",
    defaultText: null,
    derived: "none (a single-voter quorum generates one at formation)",
    description:
      "The cluster's id (22 base64url characters, `strand cluster new-id`), used when --bootstrap formats the metadata dir: stored there and mixed into the voters' directory ids; required to bootstrap a multi-voter quorum, and must match the stored id afterwards.",
  }),
  setting({
    key: "default.replication.factor",
    kind: "integer",
    defaultText: "3",
    min: 1,
    max: 32,
    description:
      "Replication factor of topics created without one, capped at the number of registered brokers.",
  }),
  setting({
    key: "num.partitions",
    kind: "integer",
    defaultText: "1",
    min: 1,
    max: 100_000,
    description: "Partitions of topics created without a count.",
  }),
  setting({
    key: "max.partitions.per.broker",
    kind: "integer",
    defaultText: "4000",
    min: 1,
    max: 1_000_000,
    description:
      "Most partition replicas one broker may hold; CreateTopics beyond it is refused (INVALID_PARTITIONS).",
  }),
  setting({
    key: "min.insync.replicas",
    kind: "integer",
    defaultText: "2",
    min: 1,
    max: 32,
    description:
      "acks=all produce is refused (NOT_ENOUGH_REPLICAS) while the ISR is smaller; capped at the replication factor.",
  }),
  setting({
    key: "unclean.leader.election.enable",
    kind: "boolean",
    defaultText: "false",
    description: "Allow electing a leader outside the ISR (may lose acknowledged records).",
  }),
  setting({
    key: "replica.lag.time.max.ms",
    kind: "integer",
    defaultText: "30000",
    min: 100,
    max: MS_MAX,
    description: "A follower not caught up for this long is removed from the ISR.",
  }),
  setting({
    key: "replica.fetch.max.wait.ms",
    kind: "integer",
    defaultText: "500",
    min: 1,
    max: MS_MAX,
    description: "Longest a follower's fetch waits at the leader for new data.",
  }),
  setting({
    key: "broker.heartbeat.interval.ms",
    kind: "integer",
    defaultText: "2000",
    min: 10,
    max: MS_MAX,
    description: "How often a broker heartbeats to the active controller.",
  }),
  setting({
    key: "broker.session.timeout.ms",
    kind: "integer",
    defaultText: "9000",
    min: 100,
    max: MS_MAX,
    description: "A broker without a heartbeat for this long is fenced and loses leadership.",
  }),
  setting({
    key: "controller.tick.ms",
    kind: "integer",
    defaultText: "100",
    min: 1,
    max: 10_000,
    description: "Raft tick; the election timeout is 10 to 20 ticks, heartbeats every tick.",
  }),
  setting({
    key: "request.timeout.ms",
    kind: "integer",
    defaultText: "30000",
    min: 1,
    max: MS_MAX,
    description: "Upper bound for a produce request's wait (acks=all) when the client sets none.",
  }),
  setting({
    key: "message.max.bytes",
    kind: "integer",
    defaultText: "1048588",
    min: 61,
    max: INT32_MAX,
    description: "Default max.message.bytes of topics: the largest accepted batch.",
  }),
  setting({
    key: "socket.request.max.bytes",
    kind: "integer",
    defaultText: null,
    derived: "message.max.bytes + 16777216 (16 MiB)",
    min: 1024,
    max: 100 * 1024 * 1024,
    description:
      "Largest request the client listener accepts, measured after gRPC decompression (RESOURCE_EXHAUSTED beyond).",
  }),
  setting({
    key: "log.segment.bytes",
    kind: "integer",
    defaultText: "1073741824",
    min: 61,
    max: INT32_MAX,
    description: "Default segment.bytes of topics.",
  }),
  setting({
    key: "log.retention.ms",
    kind: "integer",
    defaultText: "604800000",
    min: -1,
    max: MS_MAX,
    description: "Default retention.ms of topics (-1 keeps forever).",
  }),
  setting({
    key: "log.retention.bytes",
    kind: "integer",
    defaultText: "-1",
    min: -1,
    max: MS_MAX,
    description: "Default retention.bytes of topics (-1 = no limit).",
  }),
  setting({
    key: "log.retention.check.interval.ms",
    kind: "integer",
    defaultText: "300000",
    min: 1,
    max: MS_MAX,
    description: "How often retention (retention.ms, retention.bytes) runs over every log.",
  }),
  setting({
    key: "log.cleanup.policy",
    kind: "cleanup-policy",
    defaultText: "delete",
    description:
      "Default cleanup.policy of topics: delete (retention), compact (keep the last record per key) or compact,delete.",
  }),
  setting({
    key: "log.cleaner.min.cleanable.ratio",
    kind: "ratio",
    defaultText: "0.5",
    description:
      "Default min.cleanable.dirty.ratio of topics: clean a compacted log once this share of it is not yet cleaned (0 to 1).",
  }),
  setting({
    key: "log.cleaner.min.compaction.lag.ms",
    kind: "integer",
    defaultText: "0",
    min: 0,
    max: MS_MAX,
    description: "Default min.compaction.lag.ms of topics: least time a record stays uncompacted.",
  }),
  setting({
    key: "log.cleaner.delete.retention.ms",
    kind: "integer",
    defaultText: "86400000",
    min: 0,
    max: MS_MAX,
    description:
      "Default delete.retention.ms of topics: how long a tombstone stays in a compacted log.",
  }),
  setting({
    key: "log.cleaner.enable",
    kind: "boolean",
    defaultText: "true",
    description:
      "Run the log cleaner, which compacts topics with cleanup.policy=compact (one thread per node).",
  }),
  setting({
    key: "log.cleaner.backoff.ms",
    kind: "integer",
    defaultText: "15000",
    min: 10,
    max: MS_MAX,
    description:
      "How often the log cleaner looks for the dirtiest compacted log and cleans it (one log per pass).",
  }),
  setting({
    key: "log.cleaner.dedupe.buffer.size",
    kind: "integer",
    defaultText: "134217728",
    min: 1048576,
    max: INT32_MAX,
    description:
      "Memory bound of the cleaner's key -> offset map; a pass cleans only as far as the keys it can hold.",
  }),
  setting({
    key: "log.cleaner.io.max.bytes.per.second",
    kind: "integer",
    defaultText: "104857600",
    min: 1024,
    max: MS_MAX,
    description:
      "I/O budget of the log cleaner (bytes read plus written per second), so cleaning cannot starve produce and fetch.",
  }),
  setting({
    key: "offsets.topic.num.partitions",
    kind: "integer",
    defaultText: "50",
    min: 1,
    max: 1000,
    description:
      "Partitions of the internal topic `__consumer_offsets` when a broker first creates it (a group's coordinator is the leader of partition murmur2(group id) mod this count; never change it once the topic exists).",
  }),
  setting({
    key: "offsets.topic.replication.factor",
    kind: "integer",
    defaultText: "3",
    min: 1,
    max: 32,
    description:
      "Replication factor of `__consumer_offsets`, capped at the brokers registered when it is created; its min.insync.replicas is min(2, that factor).",
  }),
  setting({
    key: "offsets.topic.segment.bytes",
    kind: "integer",
    defaultText: "104857600",
    min: 1024,
    max: INT32_MAX,
    description:
      "segment.bytes of `__consumer_offsets` when a broker first creates it (100 MiB, as Kafka): the cleaner compacts closed segments only, so a coordinator's load reads at most this much beyond one record per key.",
  }),
  setting({
    key: "offsets.retention.minutes",
    kind: "integer",
    defaultText: "10080",
    min: 1,
    max: MS_MAX,
    description:
      "An empty consumer group whose last change and last commit are older than this is deleted with its committed offsets (7 days, as Kafka).",
  }),
  setting({
    key: "group.consumer.session.timeout.ms",
    kind: "integer",
    defaultText: "45000",
    min: 100,
    max: MS_MAX,
    description:
      "A group member that sends no heartbeat for this long is removed and its partitions reassigned; a static member that left keeps its partitions this long.",
  }),
  setting({
    key: "group.consumer.heartbeat.interval.ms",
    kind: "integer",
    defaultText: "5000",
    min: 50,
    max: MS_MAX,
    description:
      "How often group members are told to heartbeat; must be below group.consumer.session.timeout.ms.",
  }),
  setting({
    key: "group.consumer.max.size",
    kind: "integer",
    defaultText: "1000",
    min: 1,
    max: INT32_MAX,
    description:
      "Members one consumer group may have; one more is refused with GROUP_MAX_SIZE_REACHED.",
  }),
  setting({
    key: "shutdown.timeout.ms",
    kind: "integer",
    defaultText: "25000",
    min: 100,
    max: MS_MAX,
    description:
      "SIGTERM: hard bound on the whole stop, from the signal to exit (the process exits 1 past it); keep it below the orchestrator's grace period (Kubernetes: terminationGracePeriodSeconds, 30 s by default).",
  }),
  setting({
    key: "shutdown.drain.timeout.ms",
    kind: "integer",
    defaultText: null,
    derived: "80 % of shutdown.timeout.ms",
    min: 50,
    max: MS_MAX,
    description:
      "SIGTERM: budget for controlled shutdown (moving leaderships away) plus draining in-flight requests; the rest of shutdown.timeout.ms is left to close logs cleanly. Must be below shutdown.timeout.ms.",
  }),
  setting({
    key: "log.level",
    kind: "log-level",
    defaultText: "info",
    description: "pino log level: trace, debug, info, warn, error, fatal or silent.",
  }),
  setting({
    key: "metrics.partition.enable",
    kind: "boolean",
    defaultText: "false",
    description:
      "Export per-partition series (log size, segments, offsets, follower lag): one series per replica, so off on large clusters.",
  }),
]);

/** Looks up a setting by key. */
export function settingSpec(key: string): SettingSpec | undefined {
  return SETTINGS.find((s) => s.key === key);
}
