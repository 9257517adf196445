/** One-line renderings of messages and entries for simulator traces. */
import type { Entry, Message } from "../core/types.ts";

const dec = new TextDecoder();

/** Renders an entry as `index@term payload`. */
export function formatEntry(e: Entry): string {
  if (e.type === "normal") return `${e.index}@${e.term}:${dec.decode(e.data)}`;
  if (e.type === "config") {
    return `${e.index}@${e.term}:cfg[${e.voters.map((v) => `${v.id}/${v.dir}`).join(",")}]`;
  }
  return `${e.index}@${e.term}:noop`;
}

/** Renders a message, e.g. `1->2 append t3 prev=4@2 [5@3:p7] c=4`. */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "preVote":
    case "vote":
      return `${head} last=${m.lastIndex}@${m.lastTerm}${m.type === "vote" && m.transfer ? " transfer" : ""}`;
    case "preVoteResponse":
    case "voteResponse":
      return `${head} ${m.granted ? "granted" : "rejected"}`;
    case "append": {
      const ents =
        m.entries.length > 3 ? `${m.entries.length} entries` : m.entries.map(formatEntry).join(" ");
      return `${head} prev=${m.prevIndex}@${m.prevTerm} [${ents}] c=${m.commit}`;
    }
    case "appendResponse":
      return m.success
        ? `${head} ok match=${m.matchIndex}`
        : `${head} reject at=${m.rejectedIndex} hint=${m.conflictIndex}@${m.conflictTerm}`;
    case "heartbeat":
      return `${head} c=${m.commit}`;
    case "snapshot":
      return `${head} snap=${m.meta.index}@${m.meta.term} off=${m.offset} len=${m.data.length}${m.done ? " done" : ""}`;
    case "snapshotResponse":
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.installed ? ` installed match=${m.matchIndex}` : ""}`;
    default:
      return head;
  }
}
