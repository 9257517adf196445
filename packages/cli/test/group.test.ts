// Goal: `strand group` and `consume -g` parse their arguments strictly (usage errors, exit 2,
// for a bad --to or for options a group member cannot honour) and render the describe and
// seek tables with per-partition lag, owners and totals; the offsets consume -g commits are
// the next offset after the last printed record of each partition.
import type { GroupDescription } from "@strand/client";
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/args.ts";
import { groupReset, offsetsAfter } from "../src/commands/consume.ts";
import { describeText, parseSeekTarget, seekText } from "../src/commands/group.ts";

describe("parseSeekTarget", () => {
  it("reads every form of --to", () => {
    expect(parseSeekTarget("earliest")).toBe("earliest");
    expect(parseSeekTarget("latest")).toBe("latest");
    expect(parseSeekTarget("@1767225600000")).toEqual({ timestamp: 1767225600000 });
    expect(parseSeekTarget("42")).toEqual({ offset: 42n });
    expect(parseSeekTarget("shift:-10")).toEqual({ shiftBy: -10n });
    expect(parseSeekTarget("shift:+3")).toEqual({ shiftBy: 3n });
  });

  it("refuses anything else as a usage error", () => {
    for (const bad of ["", "first", "-1", "shift:", "shift:x", "@-5", "@soon", "1.5"])
      expect(() => parseSeekTarget(bad), bad).toThrow(UsageError);
  });
});

describe("consume -g", () => {
  it("takes -o start|end only, and refuses -p and -e", () => {
    expect(groupReset({})).toBe("earliest");
    expect(groupReset({ offset: "end" })).toBe("latest");
    expect(() => groupReset({ offset: "12" })).toThrow(UsageError);
    expect(() => groupReset({ partition: "0" })).toThrow(UsageError);
    expect(() => groupReset({ exit: true })).toThrow(UsageError);
  });

  it("commits the offset after the last printed record of each partition", () => {
    expect(
      offsetsAfter([
        { topic: "t", partition: 0, offset: 4n },
        { topic: "t", partition: 1, offset: 9n },
        { topic: "t", partition: 0, offset: 5n },
      ]),
    ).toEqual([
      { topic: "t", partition: 0, offset: 6n },
      { topic: "t", partition: 1, offset: 10n },
    ]);
  });
});

const description: GroupDescription = {
  groupId: "billing",
  state: "stable",
  groupEpoch: 7,
  assignmentEpoch: 7,
  assignor: "uniform",
  coordinatorId: 2,
  members: [
    {
      memberId: "m-1",
      instanceId: "pod-0",
      clientId: "app",
      clientHost: "/10.0.0.5",
      memberEpoch: 7,
      topics: ["orders"],
      pattern: null,
      assignment: [
        { topic: "orders", partition: 0 },
        { topic: "orders", partition: 1 },
      ],
      targetAssignment: [],
    },
  ],
  offsets: [
    {
      topic: "orders",
      partition: 0,
      committedOffset: 90n,
      logEndOffset: 100n,
      lag: 10n,
      owner: "m-1",
    },
    {
      topic: "orders",
      partition: 1,
      committedOffset: null,
      logEndOffset: 5n,
      lag: 5n,
      owner: "m-1",
    },
    {
      topic: "orders",
      partition: 2,
      committedOffset: 7n,
      logEndOffset: null,
      lag: null,
      owner: null,
    },
  ],
  totalLag: 15n,
};

describe("group describe", () => {
  it("prints the summary, the members, and per-partition offsets with lag, owner and totals", () => {
    expect(describeText(description)).toBe(
      [
        "group billing: stable, 1 member(s), epoch 7 (assignment 7), assignor uniform, coordinator 2",
        "",
        "MEMBER  INSTANCE  CLIENT  HOST       EPOCH  PARTITIONS",
        "m-1     pod-0     app     /10.0.0.5  7      orders-0,orders-1",
        "",
        "TOPIC   PARTITION  COMMITTED  LOG-END  LAG  OWNER",
        "orders  0          90         100      10   m-1 (pod-0)",
        "orders  1          -          5        5    m-1 (pod-0)",
        "orders  2          7          -        -    -",
        "TOTAL   3          97         105      15",
      ].join("\n"),
    );
  });
});

describe("group seek", () => {
  it("prints old -> new per partition and says whether it was a dry run", () => {
    const partitions = [
      { topic: "orders", partition: 0, previousOffset: 90n, newOffset: 80n },
      { topic: "orders", partition: 1, previousOffset: null, newOffset: 0n },
    ];
    expect(seekText("billing", { executed: false, partitions })).toBe(
      [
        "TOPIC   PARTITION  OLD  NEW  CHANGE",
        "orders  0          90   80   -10",
        "orders  1          -    0    -",
        "",
        "dry run: nothing changed; add --execute to commit these offsets",
      ].join("\n"),
    );
    expect(seekText("billing", { executed: true, partitions })).toContain(
      "group billing: committed the new offsets of 2 partition(s)",
    );
  });
});
