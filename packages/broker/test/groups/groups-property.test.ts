// Goal: under random join / leave / heartbeat / silence / timeout / topic-growth sequences,
// no partition is ever owned by two members (by the members' own view and by the
// coordinator's), and once everyone heartbeats the assignment covers every partition, is
// balanced, and a join or leave moved only the partitions that had to move.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keysOf, sizeOf } from "../../src/core/groups/partitions.ts";
import { held } from "../../src/core/groups/reconcile.ts";
import { currentOf } from "../../src/core/groups/state.ts";
import { assertExclusive, Coordinator, GROUP, SimMember, settle } from "./harness.ts";

type Op =
  | { kind: "join" }
  | { kind: "leave"; who: number }
  | { kind: "beat"; who: number }
  | { kind: "silence"; ms: number }
  | { kind: "grow" }
  | { kind: "bounce"; who: number }
  | { kind: "stale"; who: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Op>({ kind: "join" }) },
  { weight: 1, arbitrary: fc.nat(9).map<Op>((who) => ({ kind: "leave", who })) },
  { weight: 8, arbitrary: fc.nat(9).map<Op>((who) => ({ kind: "beat", who })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 100, max: 20_000 }).map<Op>((ms) => ({ kind: "silence", ms })),
  },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: "grow" }) },
  { weight: 1, arbitrary: fc.nat(9).map<Op>((who) => ({ kind: "bounce", who })) },
  { weight: 1, arbitrary: fc.nat(9).map<Op>((who) => ({ kind: "stale", who })) },
);

function coordinatorExclusive(c: Coordinator): void {
  const g = c.state.groups.get(GROUP);
  if (g === undefined) return;
  const seen = new Set<string>();
  for (const [id] of g.members)
    for (const k of held(currentOf(g, id))) {
      expect(seen.has(k), `coordinator gives ${k} twice`).toBe(false);
      seen.add(k);
    }
}

describe("group coordinator properties", () => {
  it("never gives one partition to two members, and converges to a balanced, full assignment", () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 12 }),
        (ops, partitions) => {
          const c = new Coordinator(new Map([["t", partitions]]), { sessionTimeoutMs: 10_000 });
          const members: SimMember[] = [];
          const live = () => members.filter((m) => m.alive);
          for (const o of ops) {
            if (o.kind === "join") {
              const m = new SimMember(c, ["t"]);
              members.push(m);
              m.beat();
            } else if (o.kind === "leave" || o.kind === "beat") {
              const m = live()[o.who % Math.max(1, live().length)];
              if (m !== undefined) o.kind === "leave" ? m.leave() : m.beat();
            } else if (o.kind === "bounce" || o.kind === "stale") {
              const m = live()[o.who % Math.max(1, live().length)];
              if (m !== undefined && m.memberId !== "") {
                if (o.kind === "bounce" && m.instanceId !== "") {
                  // A static member restarts: leaves with -2 and comes back as a new process.
                  c.heartbeat({ memberId: m.memberId, memberEpoch: -2, instanceId: m.instanceId });
                  m.alive = false;
                  const again = new SimMember(c, ["t"], m.instanceId);
                  members.push(again);
                  again.beat();
                } else {
                  // A zombie's stale heartbeat is fenced; it drops everything and rejoins.
                  const r = c.heartbeat({
                    memberId: m.memberId,
                    memberEpoch: m.epoch + 5,
                    instanceId: m.instanceId,
                    owned: m.owned,
                  });
                  expect(r.errorCode).toBe(110);
                  m.owned = new Map();
                  m.epoch = 0;
                  m.beat();
                }
              }
            } else if (o.kind === "silence") {
              c.advance(o.ms);
              // Members the coordinator removed are dead (a real one would be fenced).
              const g = c.state.groups.get(GROUP);
              for (const m of live())
                if (m.memberId !== "" && g?.members.has(m.memberId) !== true) m.alive = false;
            } else {
              c.topics = new Map([["t", (c.topics.get("t") ?? 0) + 1]]);
            }
            assertExclusive(members);
            coordinatorExclusive(c);
          }
          settle(live(), 8);
          const counts = live().map((m) => sizeOf(m.owned));
          if (counts.length === 0) return;
          expect(counts.reduce((a, b) => a + b, 0)).toBe(c.topics.get("t"));
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a join or a leave moves only the partitions that must move", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 30 }),
        fc.boolean(),
        (n, partitions, join) => {
          const c = new Coordinator(new Map([["t", partitions]]));
          const members = Array.from({ length: n }, () => new SimMember(c, ["t"]));
          settle(members, 8);
          const before = new Map(members.map((m) => [m, keysOf(m.owned)]));
          if (join) members.push(new SimMember(c, ["t"]));
          else members[0]?.leave();
          settle(members, 8);
          const after = members.filter((m) => m.alive);
          const fair = Math.floor(partitions / after.length);
          for (const m of after) {
            const old = before.get(m);
            if (old === undefined) continue;
            const now = keysOf(m.owned);
            if (join) {
              // A staying member only gives up partitions, and keeps at least its fair share.
              for (const k of now) expect(old.has(k)).toBe(true);
              expect(now.size).toBeGreaterThanOrEqual(Math.min(old.size, fair));
            } else {
              // Nobody loses anything when a member leaves.
              for (const k of old) expect(now.has(k)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
