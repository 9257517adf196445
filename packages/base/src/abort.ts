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
 * 1-4 (docs/performance.md, "Light-load latency"). A Set per signal forgets a deleted
 * callback completely.
 */

import { assert } from "./assert.ts";

const callbacksBySignal = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Runs `callback` once when `signal` aborts, unless the returned function is called first.
 * `signal` must not have aborted yet (callers check `signal.aborted` and act at once).
 * Callbacks run in registration order; one that throws does not stop the others.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  assert(!signal.aborted, "onAbort on an aborted signal: check signal.aborted first");
  const registered = callbacksBySignal.get(signal) ?? listen(signal);
  registered.add(callback);
  return () => {
    registered.delete(callback);
  };
}

/**
 * Adds the signal's one listener. A function of its own: a listener made inside onAbort would
 * share onAbort's closure context, which holds `callback`, and so keep the first callback
 * registered on each signal (and all it holds) alive as long as the signal.
 */
function listen(signal: AbortSignal): Set<() => void> {
  const set = new Set<() => void>();
  callbacksBySignal.set(signal, set);
  signal.addEventListener(
    "abort",
    () => {
      callbacksBySignal.delete(signal);
      for (const run of [...set]) {
        try {
          run();
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
      set.clear();
    },
    { once: true },
  );
  return set;
}
