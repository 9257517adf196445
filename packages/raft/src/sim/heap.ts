/** A binary min-heap of timed events, ordered by (time, insertion sequence): deterministic. */

import { assert } from "@strand/base";

interface Slot<T> {
  readonly at: number;
  readonly seq: number;
  readonly value: T;
}

/** Priority queue of events by virtual time; ties break by insertion order. */
export class EventHeap<T> {
  private readonly slots: Slot<T>[] = [];
  private seq = 0;
  private readonly sizeMax: number;

  /** A heap that refuses to grow beyond `sizeMax` events (a runaway simulation is a bug). */
  constructor(sizeMax: number) {
    this.sizeMax = sizeMax;
  }

  get size(): number {
    return this.slots.length;
  }

  push(at: number, value: T): void {
    assert(this.slots.length < this.sizeMax, `event queue overflow (${this.sizeMax})`);
    const s = this.slots;
    s.push({ at, seq: this.seq++, value });
    let i = s.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(s[i]!, s[p]!)) break;
      [s[i], s[p]] = [s[p]!, s[i]!];
      i = p;
    }
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): { at: number; value: T } | undefined {
    const s = this.slots;
    const top = s[0];
    if (top === undefined) return undefined;
    const last = s.pop()!;
    if (s.length > 0) {
      s[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < s.length && less(s[l]!, s[m]!)) m = l;
        if (r < s.length && less(s[r]!, s[m]!)) m = r;
        if (m === i) break;
        [s[i], s[m]] = [s[m]!, s[i]!];
        i = m;
      }
    }
    return { at: top.at, value: top.value };
  }
}

function less<T>(a: Slot<T>, b: Slot<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
