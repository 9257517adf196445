/**
 * A handler's working copy of one group: records are emitted into a list and replayed onto a
 * shallow copy, so later steps of the same handler see their effect while the real state
 * stays untouched until the shell replays the committed records.
 */
import type { GroupRecord } from "./records.ts";
import { type GroupState, type GroupsState, replay } from "./state.ts";

/** See the module comment. */
export class Scratch {
  readonly records: GroupRecord[] = [];
  readonly #state: GroupsState;
  readonly groupId: string;

  constructor(state: GroupsState, groupId: string) {
    this.groupId = groupId;
    const g = state.groups.get(groupId);
    this.#state = { groups: g === undefined ? new Map() : new Map([[groupId, copyGroup(g)]]) };
  }

  /** The group as the emitted records left it (undefined when it does not exist). */
  get group(): GroupState | undefined {
    return this.#state.groups.get(this.groupId);
  }

  /** Appends a record and applies it to the copy. */
  emit(r: GroupRecord): void {
    this.records.push(r);
    if (r.type === "offsetCommit" || r.type === "offsetCommitTombstone") this.#ownOffsets(r.topic);
    replay(this.#state, r);
  }

  /**
   * Offsets are copied per topic on first write: a heartbeat's scratch copy must not cost a
   * copy of every committed offset of the group.
   */
  #ownOffsets(topic: string): void {
    const g = this.group;
    if (g === undefined || this.#copiedTopics.has(topic)) return;
    this.#copiedTopics.add(topic);
    const inner = g.offsets.get(topic);
    if (inner !== undefined) g.offsets.set(topic, new Map(inner));
  }

  readonly #copiedTopics = new Set<string>();
}

function copyGroup(g: GroupState): GroupState {
  return {
    ...g,
    members: new Map(g.members),
    targets: new Map(g.targets),
    current: new Map(g.current),
    // Outer map only; inner maps are copied on write (Scratch.#ownOffsets).
    offsets: new Map(g.offsets),
  };
}
