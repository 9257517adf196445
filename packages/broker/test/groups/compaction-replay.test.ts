// Goal: compacting `__consumer_offsets` never changes what a new coordinator loads. Under
// random joins, leaves, heartbeats, silences (session timeouts), topic growth, commits and
// group deletions, replaying only the last record of every key (what the cleaner keeps, in
// offset order) gives the same groups as replaying every record; and so does dropping the
// tombstones too (what is left once delete.retention.ms has passed), because every record a
// tombstone undoes has its own tombstone.
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deleteGroup } from "../../src/core/groups/admin.ts";
import { encodeGroupRecord } from "../../src/core/groups/codec.ts";
import type { GroupRecord } from "../../src/core/groups/records.ts";
import { emptyGroupsState, type GroupsState, replayAll } from "../../src/core/groups/state.ts";
import { Coordinator, GROUP, SimMember } from "./harness.ts";

type Op =
  | { kind: "join" }
  | { kind: "leave"; who: number }
  | { kind: "beat"; who: number }
  | { kind: "silence"; ms: number }
  | { kind: "grow" }
  | { kind: "commit"; who: number; offset: number }
  | { kind: "standalone"; offset: number }
  | { kind: "delete" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Op>({ kind: "join" }) },
  { weight: 1, arbitrary: fc.nat(9).map<Op>((who) => ({ kind: "leave", who })) },
  { weight: 6, arbitrary: fc.nat(9).map<Op>((who) => ({ kind: "beat", who })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 100, max: 20_000 }).map<Op>((ms) => ({ kind: "silence", ms })),
  },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: "grow" }) },
  {
    weight: 3,
    arbitrary: fc
      .record({ who: fc.nat(9), offset: fc.nat(1000) })
      .map<Op>((o) => ({ kind: "commit", ...o })),
  },
  { weight: 1, arbitrary: fc.nat(1000).map<Op>((offset) => ({ kind: "standalone", offset })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: "delete" }) },
);

/** What the cleaner keeps: the last record of each key, in log order. */
function compact(log: readonly GroupRecord[], keepTombstones: boolean): GroupRecord[] {
  const last = new Map<string, number>();
  log.forEach((r, i) => {
    last.set(encodeGroupRecord(r).key.toString("latin1"), i);
  });
  return log.filter(
    (r, i) =>
      last.get(encodeGroupRecord(r).key.toString("latin1")) === i &&
      (keepTombstones || encodeGroupRecord(r).value !== null),
  );
}

function replayed(records: readonly GroupRecord[]): GroupsState {
  const s = emptyGroupsState();
  replayAll(s, records);
  return s;
}

function run(c: Coordinator, ops: readonly Op[]): void {
  let members: SimMember[] = [];
  const live = () => members.filter((m) => m.alive);
  for (const o of ops) {
    const m = "who" in o ? live()[o.who % Math.max(1, live().length)] : undefined;
    if (o.kind === "join") {
      const joined = new SimMember(c, ["t"]);
      members.push(joined);
      joined.beat();
    } else if (o.kind === "leave") m?.leave();
    else if (o.kind === "beat") m?.beat();
    else if (o.kind === "silence") {
      c.advance(o.ms);
      const g = c.state.groups.get(GROUP);
      for (const x of live()) if (g?.members.has(x.memberId) !== true) x.alive = false;
    } else if (o.kind === "grow") c.topics = new Map([["t", (c.topics.get("t") ?? 0) + 1]]);
    else if (o.kind === "commit" || o.kind === "standalone") {
      const by = o.kind === "commit" ? m : undefined;
      if (o.kind === "commit" && by === undefined) continue;
      const partitions = [0, 1].map((partition) => ({
        topic: "t",
        partition,
        offset: BigInt(o.offset + partition),
        leaderEpoch: -1,
        metadata: "",
      }));
      c.commit({ memberId: by?.memberId ?? "", memberEpoch: by?.epoch ?? -1, partitions });
    } else {
      // DeleteGroups needs an empty group: everyone leaves first.
      for (const x of live()) x.leave();
      members = [];
      c.apply(c.pure(() => deleteGroup(c.state, GROUP)));
    }
  }
}

describe("group records under compaction", () => {
  it("replaying the compacted log, with or without its tombstones, loads the same groups", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        const c = new Coordinator(new Map([["t", 3]]), { sessionTimeoutMs: 10_000 });
        run(c, ops);
        const full = c.reload();
        expect(isDeepStrictEqual(full, c.state)).toBe(true);
        expect(replayed(compact(c.log, true))).toEqual(full);
        expect(replayed(compact(c.log, false))).toEqual(full);
      }),
      { numRuns: 300 },
    );
  });
});
