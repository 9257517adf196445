// Goal: node configuration resolves flags > STRAND_* env > YAML file > defaults, a single node
// needs no flags, every bad value is refused with a message naming the setting, and every
// setting is documented in docs/configuration.md with its default.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ConfigError,
  envName,
  fieldName,
  loadNodeConfig,
  parseFlags,
  SETTINGS,
} from "../src/config/index.ts";

const dir = mkdtempSync(join(tmpdir(), "strand-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function yamlFile(text: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe("node config", () => {
  it("needs nothing for a single combined node", () => {
    const config = loadNodeConfig();
    expect(config.nodeId).toBe(1);
    expect(config.roles).toEqual(["broker", "controller"]);
    expect(config.clientListener).toEqual({ host: "127.0.0.1", port: 9092 });
    expect(config.controllerVoters).toEqual([{ id: 1, host: "127.0.0.1", port: 9093 }]);
    expect(config.dataDir).toBe("./.strand/node-1");
    expect(config.minInsyncReplicas).toBe(2);
    expect(config.uncleanLeaderElectionEnable).toBe(false);
    // The client listener's request limit follows message.max.bytes (+16 MiB), not 100 MiB.
    expect(config.socketRequestMaxBytes).toBe(1_048_588 + 16 * 1024 * 1024);
    expect(config.maxPartitionsPerBroker).toBe(4_000);
  });

  it("gives every setting a typed field", () => {
    const config = loadNodeConfig() as unknown as Record<string, unknown>;
    for (const spec of SETTINGS) expect(config[fieldName(spec.key)], spec.key).toBeDefined();
  });

  it("takes flags over env over file over defaults", () => {
    const configFile = yamlFile("node:\n  id: 4\nnum.partitions: 6\nlog.level: warn\n");
    const env = { [envName("node.id")]: "5", [envName("num.partitions")]: "7" };
    const config = loadNodeConfig({ flags: { "node-id": "6" }, env, configFile });
    expect(config.nodeId).toBe(6);
    expect(config.numPartitions).toBe(7);
    expect(config.logLevel).toBe("warn");
    expect(config.sources.get("node.id")).toBe("flag");
    expect(config.sources.get("num.partitions")).toBe("env");
    expect(config.sources.get("log.level")).toBe("file");
    expect(config.sources.get("request.timeout.ms")).toBe("default");
  });

  it("parses voters and derives advertised addresses", () => {
    const config = loadNodeConfig({
      flags: {
        "node.id": "2",
        "listeners.internal": "127.0.0.1:19093",
        "controller.quorum.voters": "1@127.0.0.1:9093, 2@127.0.0.1:19093,3@[::1]:9093",
      },
    });
    expect(config.advertisedInternal).toEqual({ host: "127.0.0.1", port: 19093 });
    expect(config.controllerVoters.map((v) => `${v.id}@${v.host}:${v.port}`)).toEqual([
      "1@127.0.0.1:9093",
      "2@127.0.0.1:19093",
      "3@::1:9093",
    ]);
  });

  const refusals: [string, Parameters<typeof loadNodeConfig>[0], RegExp][] = [
    ["a non-integer", { flags: { "node.id": "x" } }, /node\.id \(from flag\) must be an integer/],
    ["an out-of-range value", { env: { STRAND_MIN_INSYNC_REPLICAS: "0" } }, /between 1 and 32/],
    ["a bad address", { flags: { "listeners.client": "localhost" } }, /host:port/],
    ["an unknown flag", { flags: { "node.idd": "1" } }, /unknown flag --node\.idd/],
    ["an unknown role", { flags: { "process.roles": "broker,leader" } }, /broker, controller/],
    [
      "a controller missing from the voters",
      { flags: { "node.id": "9", "controller.quorum.voters": "1@127.0.0.1:9093" } },
      /node 9 has the controller role/,
    ],
    [
      "a session timeout below the heartbeat",
      { flags: { "broker.session.timeout.ms": "1000" } },
      /must exceed broker\.heartbeat\.interval\.ms/,
    ],
    ["a duplicate voter", { flags: { "controller.quorum.voters": "1@a:1,1@b:2" } }, /twice/],
    ["a bad boolean", { env: { STRAND_UNCLEAN_LEADER_ELECTION_ENABLE: "yes" } }, /true or false/],
    [
      "node.id together with node.id.from.hostname",
      { env: { STRAND_NODE_ID: "3", STRAND_NODE_ID_FROM_HOSTNAME: "true" }, hostname: "strand-1" },
      /node\.id \(from env\) and node\.id\.from\.hostname exclude each other/,
    ],
    [
      "a host name without an ordinal",
      { env: { STRAND_NODE_ID_FROM_HOSTNAME: "true" }, hostname: "laptop" },
      /host name "laptop" does not end in -<ordinal>/,
    ],
    [
      // Raft asserted on it at start ("bad chunk size or node id") instead of a clear refusal.
      "node id 0 as a controller",
      {
        env: { STRAND_NODE_ID_FROM_HOSTNAME: "true", STRAND_NODE_ID_OFFSET: "0" },
        hostname: "s-0",
      },
      /node\.id 0 cannot have the controller role: Raft voter ids start at 1/,
    ],
    [
      "a voter id 0",
      { flags: { "controller.quorum.voters": "0@a:1,1@b:2" } },
      /voter id 0 is invalid/,
    ],
    [
      "a wildcard bind without an advertised address",
      { flags: { "listeners.client": "0.0.0.0:9092" } },
      /listeners\.client binds to 0\.0\.0\.0: set advertised\.client/,
    ],
    [
      "a wildcard advertised address",
      { flags: { "listeners.internal": "0.0.0.0:9093", "advertised.internal": "[::]:9093" } },
      /advertised\.internal must be an address others can dial/,
    ],
    [
      "a drain budget that leaves nothing to close the logs",
      { flags: { "shutdown.timeout.ms": "5000", "shutdown.drain.timeout.ms": "5000" } },
      /shutdown\.drain\.timeout\.ms \(5000\) must be below shutdown\.timeout\.ms \(5000\)/,
    ],
  ];
  for (const [what, sources, message] of refusals) {
    it(`refuses ${what}`, () => {
      expect(() => loadNodeConfig(sources)).toThrow(ConfigError);
      expect(() => loadNodeConfig(sources)).toThrow(message);
    });
  }

  it("derives node.id from a StatefulSet pod's host name, plus an offset", () => {
    const pod = loadNodeConfig({
      env: { STRAND_NODE_ID_FROM_HOSTNAME: "true" },
      hostname: "strand-2.strand-headless.prod.svc.cluster.local",
    });
    // Ordinals start at 0, voter ids at 1: the default offset is 1.
    expect(pod.nodeId).toBe(3);
    expect(pod.sources.get("node.id")).toBe("hostname");
    expect(pod.dataDir).toBe("./.strand/node-3");
    const broker = loadNodeConfig({
      env: { STRAND_NODE_ID_FROM_HOSTNAME: "true", STRAND_NODE_ID_OFFSET: "100" },
      flags: { "process.roles": "broker", "controller.quorum.voters": "1@c-0:9093" },
      hostname: "strand-brokers-1",
    });
    expect(broker.nodeId).toBe(101);
  });

  it("puts the node's id into file settings with {node.id}, so one pod template names each node's certificate", () => {
    const pod = loadNodeConfig({
      env: {
        STRAND_NODE_ID_FROM_HOSTNAME: "true",
        STRAND_LISTENERS_INTERNAL_TLS_CERT_FILE: "/etc/strand/tls/node-{node.id}.crt",
        STRAND_LISTENERS_INTERNAL_TLS_KEY_FILE: "/etc/strand/tls/node-{node.id}.key",
        STRAND_LISTENERS_INTERNAL_TLS_CA_FILE: "/etc/strand/tls/ca.crt",
      },
      hostname: "strand-2",
    });
    expect(pod.listenersInternalTlsCertFile).toBe("/etc/strand/tls/node-3.crt");
    expect(pod.listenersInternalTlsKeyFile).toBe("/etc/strand/tls/node-3.key");
    expect(pod.listenersInternalTlsCaFile).toBe("/etc/strand/tls/ca.crt");
  });

  it("binds to 0.0.0.0 while advertising the pod's name", () => {
    const config = loadNodeConfig({
      env: {
        STRAND_LISTENERS_CLIENT: "0.0.0.0:9092",
        STRAND_LISTENERS_INTERNAL: "0.0.0.0:9093",
        STRAND_ADVERTISED_CLIENT: "strand-0.strand-headless.ns.svc:9092",
        STRAND_ADVERTISED_INTERNAL: "strand-0.strand-headless.ns.svc:9093",
      },
    });
    expect(config.clientListener.host).toBe("0.0.0.0");
    expect(config.controllerVoters).toEqual([
      { id: 1, host: "strand-0.strand-headless.ns.svc", port: 9093 },
    ]);
  });

  it("leaves a fifth of the shutdown budget to closing the logs by default", () => {
    const config = loadNodeConfig();
    expect(config.shutdownTimeoutMs).toBe(25_000);
    expect(config.shutdownDrainTimeoutMs).toBe(20_000);
    expect(
      loadNodeConfig({ flags: { "shutdown.timeout.ms": "5000" } }).shutdownDrainTimeoutMs,
    ).toBe(4_000);
  });

  it("refuses unknown keys and non-maps in the YAML file", () => {
    expect(() => loadNodeConfig({ configFile: yamlFile("nodeid: 3\n") })).toThrow(
      /unknown setting "nodeid"/,
    );
    expect(() => loadNodeConfig({ configFile: yamlFile("- a\n- b\n") })).toThrow(/YAML map/);
    expect(() => loadNodeConfig({ configFile: join(dir, "missing.yaml") })).toThrow(
      /cannot read config file/,
    );
  });

  it("splits flags", () => {
    expect(parseFlags(["--node.id", "3", "--num-partitions=4", "--config", "f.yaml"])).toEqual({
      flags: { "node.id": "3", "num-partitions": "4" },
      configFile: "f.yaml",
      help: false,
    });
    expect(parseFlags(["-h"]).help).toBe(true);
    expect(() => parseFlags(["--node.id"])).toThrow(/needs a value/);
    expect(() => parseFlags(["stray"])).toThrow(/unexpected argument/);
  });

  it("keeps TLS off by default and refuses incomplete TLS settings", () => {
    const plain = loadNodeConfig();
    expect(plain.listenersClientTlsCertFile).toBe("");
    expect(plain.listenersInternalTlsCertFile).toBe("");
    expect(plain.listenersClientTlsClientAuth).toBe("none");
    const pair = {
      "listeners.client.tls.cert.file": "c.crt",
      "listeners.client.tls.key.file": "c.key",
    };
    expect(loadNodeConfig({ flags: pair }).listenersClientTlsCertFile).toBe("c.crt");
    expect(() => loadNodeConfig({ flags: { "listeners.client.tls.cert.file": "c.crt" } })).toThrow(
      /must be set together/,
    );
    expect(() =>
      loadNodeConfig({ flags: { ...pair, "listeners.client.tls.client.auth": "required" } }),
    ).toThrow(/needs listeners.client.tls.ca.file/);
    expect(() =>
      loadNodeConfig({ flags: { "listeners.admin.tls.client.auth": "requested" } }),
    ).toThrow(/needs TLS on/);
    expect(() =>
      loadNodeConfig({ flags: { "listeners.client.tls.client.auth": "maybe" } }),
    ).toThrow(/none, requested or required/);
    const internal = {
      "listeners.internal.tls.cert.file": "n.crt",
      "listeners.internal.tls.key.file": "n.key",
    };
    expect(() => loadNodeConfig({ flags: internal })).toThrow(/nodes verify each other/);
    const env = { STRAND_LISTENERS_INTERNAL_TLS_CA_FILE: "ca.crt" };
    expect(loadNodeConfig({ flags: internal, env }).listenersInternalTlsCaFile).toBe("ca.crt");
  });

  it("parses the compaction defaults of topics and refuses bad ones", () => {
    const config = loadNodeConfig({
      flags: { "log.cleanup.policy": "delete,compact", "log.cleaner.min.cleanable.ratio": "0.25" },
    });
    expect(config.logCleanupPolicy).toBe("compact,delete");
    expect(config.logCleanerMinCleanableRatio).toBe(0.25);
    expect(loadNodeConfig().logCleanerDeleteRetentionMs).toBe(86_400_000);
    expect(() => loadNodeConfig({ flags: { "log.cleanup.policy": "shred" } })).toThrow(
      /delete, compact or compact,delete/,
    );
    expect(() => loadNodeConfig({ flags: { "log.cleaner.min.cleanable.ratio": "2" } })).toThrow(
      /between 0 and 1/,
    );
  });

  it("is documented, every setting with its default and env name", () => {
    const doc = readFileSync(join(import.meta.dirname, "../../../docs/configuration.md"), "utf8");
    for (const spec of SETTINGS) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${spec.key}\` |`));
      expect(row, `docs/configuration.md has no row for ${spec.key}`).toBeDefined();
      expect(row).toContain(`\`${envName(spec.key)}\``);
      expect(row).toContain(spec.defaultText ?? spec.derived ?? "");
    }
  });

  it("reads authorizer and super.users (default: none and nobody)", () => {
    const defaults = loadNodeConfig({});
    expect(defaults.authorizer).toBe("none");
    expect(defaults.superUsers).toEqual([]);
    const acl = loadNodeConfig({
      flags: { authorizer: "acl", "super.users": "User:admin; User:ops,Node:2" },
    });
    expect(acl.authorizer).toBe("acl");
    expect(acl.superUsers).toEqual(["User:admin", "User:ops", "Node:2"]);
    expect(() => loadNodeConfig({ flags: { authorizer: "opa" } })).toThrow(/none or acl/);
    expect(() => loadNodeConfig({ flags: { "super.users": "admin" } })).toThrow(
      /not a principal like User:admin/,
    );
  });
});
