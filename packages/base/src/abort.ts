/**
 * Abort callbacks on long-lived signals (a client's close, a node's shutdown) without an
 * EventTarget listener per operation.
 *
 * Why: Node's EventTarget keeps a type's listeners in a doubly linked list, and removing a
 * listener does not clear that listener's own links. Once a removed listener has been promoted
 * to the old generation it still points at the listener added after it, and V8's scavenger
 * treats old-to-young pointers as roots without asking whether the old object is alive: the
 * next listener survives, is promoted, and holds the one after it. A listener per call on one
 * long-lived signal thus promoted every call's closure and whatever it held (grpc-js call
 * objects, promises, buffers) until the next full GC: in a consumer at 5,000 records/s a
 * quarter of all allocations survived each scavenge, and scavenges took 25-45 ms instead of
 * 1-4 (docs/performance.md, "Light-load latency").
 *
 * Here a signal has one listener and a linked list of callbacks whose unlink clears the
 * removed node's links, so a dead node points at nothing. Not a Set: a long-lived Set churned
 * by add and delete rehashes into old-space tables, and a retired table keeps pointing at
 * young entries, the same nepotism on a smaller scale.
 */

import { assert } from "./assert.ts";

/** One registered callback; `run` is null once it ran or was forgotten. */
interface Callback {
  run: (() => void) | null;
  prev: Callback | null;
  next: Callback | null;
}

/** The callbacks of one signal, oldest first. */
interface Callbacks {
  head: Callback | null;
  tail: Callback | null;
}

const callbacksBySignal = new WeakMap<AbortSignal, Callbacks>();

/**
 * Runs `callback` once when `signal` aborts, unless the returned function is called first.
 * `signal` must not have aborted yet (callers check `signal.aborted` and act at once).
 * Callbacks run in registration order; one that throws does not stop the others.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  assert(!signal.aborted, "onAbort on an aborted signal: check signal.aborted first");
  const list = callbacksBySignal.get(signal) ?? listen(signal);
  const node: Callback = { run: callback, prev: list.tail, next: null };
  if (list.tail === null) list.head = node;
  else list.tail.next = node;
  list.tail = node;
  return () => unlink(list, node);
}

/** Removes `node` from `list` and clears its links (see the module comment). */
function unlink(list: Callbacks, node: Callback): void {
  if (node.run === null) return;
  node.run = null;
  if (node.prev === null) list.head = node.next;
  else node.prev.next = node.next;
  if (node.next === null) list.tail = node.prev;
  else node.next.prev = node.prev;
  node.prev = null;
  node.next = null;
}

/**
 * Adds the signal's one listener. A function of its own: a listener made inside onAbort would
 * share onAbort's closure context, which holds `callback`, and so keep the first callback
 * registered on each signal (and all it holds) alive as long as the signal.
 */
function listen(signal: AbortSignal): Callbacks {
  const list: Callbacks = { head: null, tail: null };
  callbacksBySignal.set(signal, list);
  signal.addEventListener(
    "abort",
    () => {
      callbacksBySignal.delete(signal);
      const due: (() => void)[] = [];
      // Marked as run, so a forget() after the abort is a no-op.
      for (let node = list.head; node !== null; node = node.next) {
        if (node.run !== null) due.push(node.run);
        node.run = null;
      }
      list.head = null;
      list.tail = null;
      for (const run of due) {
        try {
          run();
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    },
    { once: true },
  );
  return list;
}
