// Goal: Raft survives any single hostile or buggy message. A term no honest peer can reach
// (2^53-1, or far above the local term) is refused at the wire and in the core, so the cluster
// keeps electing leaders; a voter acts only on messages from voters of its configuration (a
// TimeoutNow or a higher-term append from anyone else changes nothing); quorum contact is
// measured for readiness; an entry the application cannot apply is never proposed nor
// accepted; and a flood of invalid messages costs one log line per peer per interval.
import { describe, expect, it } from "vitest";
import type { Entry, Index, Message, SnapshotMeta } from "../src/core/index.ts";
import {
  directoryId,
  index,
  MemoryStorage,
  nodeId,
  RAFT_NUMBER_MAX,
  TERM_JUMP_MAX,
  term,
} from "../src/core/index.ts";
import { RaftDriver, type Scheduler, type StateMachine } from "../src/driver/driver.ts";
import { InvalidEntryError } from "../src/driver/errors.ts";
import { LogLimiter } from "../src/driver/log-limiter.ts";
import { GrpcTransport } from "../src/transport/grpc.ts";
import type { ReceiveHandler, Transport } from "../src/transport/transport.ts";
import { messageFromWire, messageToWire } from "../src/transport/wire.ts";
import { dirOf, TestCluster } from "./harness.ts";

const enc = new TextEncoder();
const HUGE = 2 ** 53 - 1;

function heartbeat(from: number, to: number, t: number, fromDir = dirOf(from)): Message {
  return {
    type: "heartbeat",
    from: nodeId(from),
    fromDir,
    to: nodeId(to),
    toDir: null,
    term: term(t),
    commit: index(0),
  };
}

/** Ticks `ids` until one leads (bounded); returns the leader's term. */
function electByTicking(c: TestCluster, ids: number[]): number {
  for (let round = 0; round < 200; round++) {
    for (const id of ids) c.tick(id);
    c.deliver();
    const leader = ids.find((id) => c.status(id).role === "leader");
    if (leader !== undefined) return c.status(leader).term;
  }
  throw new Error("no leader elected");
}

describe("terms no honest peer can reach", () => {
  it("the wire refuses numbers above 2^48 (2^53-1 included) and accepts 2^48", () => {
    const hb = { ...messageToWire(heartbeat(1, 2, 1)), body: "heartbeat" };
    expect(() => messageFromWire({ ...hb, term: String(HUGE) })).toThrow(/beyond 2\^48/);
    expect(() => messageFromWire({ ...hb, term: String(RAFT_NUMBER_MAX + 1) })).toThrow();
    expect(() => messageFromWire({ ...hb, heartbeat: { commit: String(HUGE) } })).toThrow();
    expect(messageFromWire({ ...hb, term: String(RAFT_NUMBER_MAX) }).term).toBe(RAFT_NUMBER_MAX);
  });

  it("a heartbeat at 2^53-1 to every voter changes nothing; leaders are elected after, also after a restart", () => {
    const c = new TestCluster(3);
    c.elect(1);
    for (const to of [2, 3]) expect(c.get(to).node.step(heartbeat(1, to, HUGE))).toBe("termJump");
    expect(c.get(1).node.step(heartbeat(2, 1, HUGE))).toBe("termJump");
    expect(c.roles()).toEqual(["1 leader t1 c=1", "2 follower t1 c=1", "3 follower t1 c=1"]);
    expect(c.status(2).refusedMessages).toBe(1);
    // The old leader dies; the others elect a new one, and again after a full restart.
    c.isolate(1);
    expect(electByTicking(c, [2, 3])).toBe(2);
    c.heal();
    for (const id of [1, 2, 3]) c.restart(id);
    c.elect(3);
    expect(c.propose(3, "still counting").ok).toBe(true);
    c.stabilize();
    expect(c.appliedOf(1)).toEqual(["still counting"]);
  });

  it("a term more than TERM_JUMP_MAX above the local one is refused; within it, accepted", () => {
    const c = new TestCluster(3);
    c.elect(1);
    expect(c.get(2).node.step(heartbeat(1, 2, 1 + TERM_JUMP_MAX + 1))).toBe("termJump");
    expect(c.status(2).term).toBe(1);
    expect(c.get(2).node.step(heartbeat(3, 2, 1 + TERM_JUMP_MAX))).toBeNull();
    expect(c.status(2).term).toBe(1 + TERM_JUMP_MAX);
  });
});

describe("only voters are heard", () => {
  it("a TimeoutNow from a non-voter (unknown id, or a voter's id with another directory) is dropped", () => {
    const c = new TestCluster(3);
    c.elect(1);
    const tn = (from: number, fromDir = dirOf(from)): Message => ({
      type: "timeoutNow",
      from: nodeId(from),
      fromDir,
      to: nodeId(2),
      toDir: null,
      term: term(1),
    });
    expect(c.get(2).node.step(tn(9))).toBe("notVoter");
    expect(c.get(2).node.step(tn(1, directoryId("stolen-disk")))).toBe("notVoter");
    expect(c.flush()).toEqual([]);
    expect(c.roles()).toEqual(["1 leader t1 c=1", "2 follower t1 c=1", "3 follower t1 c=1"]);
    expect(c.status(2).refusedMessages).toBe(2);
    // The same message from the real leader still works (leadership transfer).
    expect(c.get(2).node.step(tn(1))).toBeNull();
    expect(c.status(2).role).toBe("candidate");
  });

  it("an AppendEntries from a non-voter with a higher term neither bumps the term nor deposes the leader", () => {
    const c = new TestCluster(3);
    c.elect(1);
    const hijack: Message = {
      type: "append",
      from: nodeId(7),
      fromDir: dirOf(7),
      to: nodeId(2),
      toDir: null,
      term: term(5),
      prevIndex: index(1),
      prevTerm: term(1),
      entries: [{ type: "normal", term: term(5), index: index(2), data: enc.encode("evil") }],
      commit: index(2),
    };
    expect(c.get(2).node.step(hijack)).toBe("notVoter");
    expect(c.flush()).toEqual([]);
    expect(c.status(2)).toMatchObject({ term: 1, leader: 1, lastIndex: 1 });
    expect(c.propose(1, "real").ok).toBe(true);
    c.stabilize();
    expect(c.appliedOf(2)).toEqual(["real"]);
  });

  it("a node that is not a voter itself (being added) hears anyone", () => {
    const c = new TestCluster(3, {}, [1, 2]);
    expect(c.get(3).node.step(heartbeat(9, 3, 1))).toBeNull();
    expect(c.status(3)).toMatchObject({ term: 1, leader: 9 });
  });
});

describe("quorum contact", () => {
  it("grows on a cut-off leader and follower, stays low in a healthy cluster", () => {
    const c = new TestCluster(3);
    c.elect(1);
    for (let k = 0; k < 30; k++) {
      c.tick(1);
      c.stabilize();
    }
    expect(c.status(1).quorumContactTicks).toBeLessThan(10);
    expect(c.status(2).quorumContactTicks).toBeLessThanOrEqual(1);
    c.isolate(1);
    c.isolate(2);
    for (let k = 0; k < 40; k++) {
      c.tick(1);
      c.tick(2);
      c.deliver();
    }
    expect(c.status(1).role).not.toBe("leader"); // check-quorum stepped it down
    expect(c.status(1).quorumContactTicks).toBeGreaterThanOrEqual(20);
    expect(c.status(2).quorumContactTicks).toBeGreaterThanOrEqual(40);
  });
});

// ------------------------------------------------------------------ the driver

class ListMachine implements StateMachine {
  items: string[] = [];
  apply(entry: Entry, _i: Index): void {
    if (entry.type === "normal") this.items.push(new TextDecoder().decode(entry.data));
  }
  snapshot(): Uint8Array {
    return new Uint8Array();
  }
  restore(_data: Uint8Array, _meta: SnapshotMeta): void {}
}

/** A transport the test feeds by hand and whose sent messages it reads. */
class HandTransport implements Transport {
  handler: ReceiveHandler | null = null;
  sent: Message[] = [];
  send(messages: readonly Message[]): void {
    this.sent.push(...messages);
  }
  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }
  async close(): Promise<void> {}
}

const manualScheduler: Scheduler = { setInterval: () => ({ cancel: () => undefined }) };
const startsWithOk = (data: Uint8Array): string | null =>
  new TextDecoder().decode(data).startsWith("ok") ? null : "does not start with ok";

async function settle(): Promise<void> {
  for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
}

describe("driver entry validation", () => {
  it("refuses a proposal whose payload fails the validator", async () => {
    const id = nodeId(1);
    const storage = new MemoryStorage({ bootstrapVoters: [{ id, dir: dirOf(1) }] });
    const driver = await RaftDriver.start({
      id,
      dir: dirOf(1),
      storage,
      transport: new HandTransport(),
      stateMachine: new ListMachine(),
      scheduler: manualScheduler,
      entryValidator: startsWithOk,
    });
    try {
      driver.campaign();
      await settle();
      expect(driver.status().role).toBe("leader");
      await expect(driver.propose(enc.encode("garbage"))).rejects.toBeInstanceOf(InvalidEntryError);
      expect((await driver.propose(enc.encode("ok 1"))).index).toBe(2);
    } finally {
      await driver.close();
    }
  });

  it("a follower drops an append carrying an invalid entry, keeps running, and takes a valid one", async () => {
    const id = nodeId(2);
    const voters = [
      { id: nodeId(1), dir: dirOf(1) },
      { id, dir: dirOf(2) },
    ];
    const transport = new HandTransport();
    const sm = new ListMachine();
    const warnings: string[] = [];
    const driver = await RaftDriver.start({
      id,
      dir: dirOf(2),
      storage: new MemoryStorage({ bootstrapVoters: voters }),
      transport,
      stateMachine: sm,
      scheduler: manualScheduler,
      entryValidator: startsWithOk,
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (_o, msg) => warnings.push(msg ?? ""),
        error: () => undefined,
      },
    });
    const append = (data: string): Message => ({
      type: "append",
      from: nodeId(1),
      fromDir: dirOf(1),
      to: id,
      toDir: null,
      term: term(1),
      prevIndex: index(0),
      prevTerm: term(0),
      entries: [{ type: "normal", term: term(1), index: index(1), data: enc.encode(data) }],
      commit: index(1),
    });
    let fatal: unknown = null;
    driver.onFatal((e) => {
      fatal = e;
    });
    try {
      for (let k = 0; k < 3; k++) transport.handler?.([append("poison")]);
      await settle();
      expect(driver.status().lastIndex).toBe(0);
      expect(driver.invalidAppends).toBe(3);
      expect(warnings).toHaveLength(1); // rate-limited
      expect(transport.sent).toEqual([]);
      transport.handler?.([append("ok fine")]);
      await settle();
      expect(driver.status()).toMatchObject({ lastIndex: 1, commit: 1 });
      expect(sm.items).toEqual(["ok fine"]);
      expect(fatal).toBeNull();
    } finally {
      await driver.close();
    }
  });

  it("reports a fatal error to a listener attached after it happened", async () => {
    const id = nodeId(1);
    const storage = new MemoryStorage({ bootstrapVoters: [{ id, dir: dirOf(1) }] });
    const broken: StateMachine = {
      apply: () => {
        throw new Error("cannot apply");
      },
      snapshot: () => new Uint8Array(),
      restore: () => undefined,
    };
    const driver = await RaftDriver.start({
      id,
      dir: dirOf(1),
      storage,
      transport: new HandTransport(),
      stateMachine: broken,
      scheduler: manualScheduler,
    });
    driver.campaign(); // becomes leader and applies its no-op: the state machine throws
    await settle();
    const seen: unknown[] = [];
    driver.onFatal((e) => seen.push(e));
    expect(String(seen[0])).toMatch(/cannot apply/);
    await driver.close();
  });
});

describe("a peer authenticated as one node (TLS)", () => {
  it("cannot deliver messages from another node", async () => {
    const transport = new GrpcTransport({ nodeId: nodeId(1), peers: new Map() });
    const delivered: number[] = [];
    transport.onReceive((messages) => delivered.push(...messages.map((m) => Number(m.from))));
    const fromTwo = { ...messageToWire(heartbeat(2, 1, 1)), body: "heartbeat" };
    const fromThree = { ...messageToWire(heartbeat(3, 1, 1)), body: "heartbeat" };
    // The certificate says node 2: its own message passes, one claiming node 3 is dropped.
    expect(transport.receiveWire([fromTwo, fromThree], "ipv4:10.0.0.2:5555", 2)).toBe(1);
    expect(delivered).toEqual([2]);
    expect(transport.stats.invalidMessages).toBe(1);
    // Without TLS (no authenticated node), any from is taken as before.
    expect(transport.receiveWire([fromThree], "ipv4:10.0.0.2:5555")).toBe(1);
    await transport.close();
  });
});

describe("rate-limited logging of invalid messages", () => {
  it("logs one line per peer per interval, then says how many more were dropped", () => {
    let now = 0;
    const lines: { msg: string; suppressed: number }[] = [];
    const transport = new GrpcTransport({
      nodeId: nodeId(1),
      peers: new Map(),
      now: () => now,
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (o, msg) =>
          lines.push({ msg: msg ?? "", suppressed: (o as { suppressed: number }).suppressed }),
        error: () => undefined,
      },
    });
    const junk = Array.from({ length: 500 }, () => ({ term: "-1" }));
    for (let k = 0; k < 20; k++) transport.receiveWire(junk, "ipv4:10.0.0.9:5555");
    transport.receiveWire(junk, "ipv4:10.0.0.8:5555");
    expect(lines.map((l) => l.suppressed)).toEqual([499, 499]);
    now += 10_000;
    transport.receiveWire(junk.slice(0, 1), "ipv4:10.0.0.9:5555");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toEqual({
      msg: "invalid raft message dropped (9500 more dropped from this peer)",
      suppressed: 9500,
    });
    expect(transport.stats.invalidMessages).toBe(21 * 500 + 1);
  });

  it("LogLimiter forgets nothing within the interval and starts over after it", () => {
    let now = 0;
    const l = new LogLimiter(1_000, () => now);
    expect(l.hit("a")).toBe(0);
    expect(l.hit("a", 5)).toBeNull();
    now = 1_000;
    expect(l.hit("a")).toBe(5);
  });
});

describe("a batch of forged messages", () => {
  it("cannot add up term jumps before the next persist", () => {
    const c = new TestCluster(3);
    c.elect(1);
    const n2 = c.get(2).node;
    let t = 1;
    const results: (string | null)[] = [];
    for (let k = 0; k < 4; k++) {
      t += TERM_JUMP_MAX;
      results.push(n2.step(heartbeat(1, 2, t)));
    }
    expect(results).toEqual([null, "termJump", "termJump", "termJump"]);
    expect(c.status(2).term).toBe(1 + TERM_JUMP_MAX);
  });
});
