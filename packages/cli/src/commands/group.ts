/**
 * `strand group list | describe | delete | seek`: consumer groups through the admin client.
 * Describe prints the members, then per partition the committed offset, log end offset, lag
 * and owner, with totals; seek moves committed offsets (a dry run unless --execute) and prints
 * old -> new per partition. Offsets print as "-" where the cluster has none.
 */
import type { GroupDescription, OffsetResetResult, OffsetResetTarget } from "@strand/client";
import { flag, list, parseInteger, str, UsageError } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { EXIT, println, table, toJson } from "../output.ts";

const call = (inv: Invocation) => ({ signal: inv.signal, timeoutMs: inv.timeoutMs });
const dash = (v: bigint | null): string => (v === null ? "-" : String(v));

/** Parses `--to`: earliest, latest, @TIMESTAMP_MS, an offset, or shift:N (N may be negative). */
export function parseSeekTarget(raw: string): OffsetResetTarget {
  if (raw === "earliest" || raw === "start") return "earliest";
  if (raw === "latest" || raw === "end") return "latest";
  if (raw.startsWith("@"))
    return { timestamp: parseInteger(raw.slice(1), "--to @TIMESTAMP_MS", { min: 0 }) };
  if (raw.startsWith("shift:")) {
    const n = raw.slice("shift:".length).trim();
    if (!/^[+-]?\d+$/.test(n)) throw new UsageError(`--to shift:N needs an integer, got "${raw}"`);
    return { shiftBy: BigInt(n) };
  }
  if (/^\d+$/.test(raw)) return { offset: BigInt(raw) };
  throw new UsageError(
    `--to must be earliest, latest, @TIMESTAMP_MS, OFFSET or shift:N, got "${raw}"`,
  );
}

/** The text of `group describe`: a summary, the members, and the offsets table with totals. */
export function describeText(d: GroupDescription): string {
  const owner = new Map(d.members.map((m) => [m.memberId, m.instanceId ?? m.clientId]));
  const summary = [
    `group ${d.groupId}: ${d.state}, ${d.members.length} member(s), epoch ${d.groupEpoch} (assignment ${d.assignmentEpoch}), assignor ${d.assignor || "-"}, coordinator ${d.coordinatorId}`,
  ];
  const members =
    d.members.length === 0
      ? []
      : [
          "",
          table(
            ["MEMBER", "INSTANCE", "CLIENT", "HOST", "EPOCH", "PARTITIONS"],
            d.members.map((m) => [
              m.memberId,
              m.instanceId ?? "-",
              m.clientId,
              m.clientHost,
              String(m.memberEpoch),
              m.assignment.map((p) => `${p.topic}-${p.partition}`).join(",") || "-",
            ]),
          ),
        ];
  const rows = d.offsets.map((o) => [
    o.topic,
    String(o.partition),
    dash(o.committedOffset),
    dash(o.logEndOffset),
    dash(o.lag),
    o.owner === null ? "-" : `${o.owner}${owner.has(o.owner) ? ` (${owner.get(o.owner)})` : ""}`,
  ]);
  const committed = d.offsets.reduce((s, o) => s + (o.committedOffset ?? 0n), 0n);
  const end = d.offsets.reduce((s, o) => s + (o.logEndOffset ?? 0n), 0n);
  rows.push([
    "TOTAL",
    String(d.offsets.length),
    String(committed),
    String(end),
    String(d.totalLag),
    "",
  ]);
  return [
    ...summary,
    ...members,
    "",
    table(["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "OWNER"], rows),
  ].join("\n");
}

/** The text of `group seek`: old -> new per partition and what happened. */
export function seekText(groupId: string, r: OffsetResetResult): string {
  const rows = r.partitions.map((p) => [
    p.topic,
    String(p.partition),
    dash(p.previousOffset),
    String(p.newOffset),
    p.previousOffset === null ? "-" : formatShift(p.newOffset - p.previousOffset),
  ]);
  const outcome = r.executed
    ? `group ${groupId}: committed the new offsets of ${r.partitions.length} partition(s)`
    : `dry run: nothing changed; add --execute to commit these offsets`;
  return [table(["TOPIC", "PARTITION", "OLD", "NEW", "CHANGE"], rows), "", outcome].join("\n");
}

const formatShift = (d: bigint): string => (d > 0n ? `+${d}` : String(d));

async function listGroups(inv: Invocation): Promise<number> {
  const groups = await (await inv.client()).admin().listGroups(call(inv));
  if (inv.format === "json") println(toJson(groups));
  else
    println(
      table(
        ["GROUP", "STATE", "MEMBERS", "COORDINATOR"],
        groups.map((g) => [g.groupId, g.state, String(g.members), String(g.coordinatorId)]),
      ),
    );
  return EXIT.ok;
}

async function describeGroup(inv: Invocation): Promise<number> {
  const [d] = await (await inv.client()).admin().describeGroups([inv.args[0]!], call(inv));
  if (d === undefined) throw new UsageError(`no answer for group ${inv.args[0]}`);
  println(inv.format === "json" ? toJson(d) : describeText(d));
  return EXIT.ok;
}

async function deleteGroup(inv: Invocation): Promise<number> {
  const groupId = inv.args[0]!;
  await (await inv.client()).admin().deleteGroups([groupId], call(inv));
  if (inv.format === "json") println(toJson({ groupId, deleted: true }));
  else println(table(["GROUP", "STATUS"], [[groupId, "deleted"]]));
  return EXIT.ok;
}

async function seekGroup(inv: Invocation): Promise<number> {
  const groupId = inv.args[0]!;
  const raw = str(inv.options, "to");
  if (raw === undefined) throw new UsageError("strand group seek needs --to");
  const to = parseSeekTarget(raw);
  const topics = list(inv.options, "topic");
  const result = await (await inv.client())
    .admin()
    .resetOffsets(groupId, to, { ...call(inv), topics, execute: flag(inv.options, "execute") });
  println(inv.format === "json" ? toJson({ groupId, ...result }) : seekText(groupId, result));
  return EXIT.ok;
}

/** The group commands. */
export const groupCommands: readonly Command[] = [
  {
    path: ["group", "list"],
    brief: "list consumer groups",
    summary: "Lists every consumer group of the cluster (each broker lists those it coordinates).",
    args: "",
    arity: [0, 0],
    options: [],
    examples: ["strand group list", "strand group list -f json"],
    run: listGroups,
  },
  {
    path: ["group", "describe"],
    brief: "members, offsets and lag of a group",
    summary:
      "Describes a consumer group: state, members and their partitions, and per partition the committed offset, log end offset, lag and owner, with totals.",
    args: "GROUP",
    arity: [1, 1],
    options: [],
    examples: ["strand group describe billing", "strand group describe billing -f json"],
    run: describeGroup,
  },
  {
    path: ["group", "delete"],
    brief: "delete a group and its offsets",
    summary: "Deletes a consumer group and its committed offsets; refused while it has members.",
    args: "GROUP",
    arity: [1, 1],
    options: [],
    examples: ["strand group delete billing"],
    run: deleteGroup,
  },
  {
    path: ["group", "seek"],
    brief: "move a group's committed offsets",
    summary:
      "Moves a group's committed offsets (all its topics, or --topic ones) and prints old -> new per partition. A dry run unless --execute; refused while the group has active members.",
    args: "GROUP",
    arity: [1, 1],
    options: [
      {
        name: "to",
        type: "string",
        valueName: "TARGET",
        description:
          "earliest, latest, @MS (first record at/after a timestamp), OFFSET, or shift:N (committed offset moved by N, may be negative)",
      },
      {
        name: "topic",
        short: "t",
        type: "string",
        multiple: true,
        valueName: "TOPIC",
        description: "only this topic",
      },
      {
        name: "execute",
        type: "boolean",
        description: "commit the new offsets (default: dry run)",
      },
    ],
    examples: [
      "strand group seek billing --to earliest               # dry run",
      "strand group seek billing --to shift:-100 --topic orders --execute",
      "strand group seek billing --to @1767225600000 --execute",
    ],
    run: seekGroup,
  },
];
