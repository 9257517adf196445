// Goal: onAbort runs each registered callback once, in order, unless it was forgotten; a
// long-lived signal carries one 'abort' listener however many callbacks come and go (a listener
// per call is what chained every call's objects through young-generation GC, see abort.ts), and
// a forgotten callback is not kept alive by the signal. One throwing callback must not keep the
// others (other requests' rejections) from running.
import { getEventListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { onAbort } from "../src/abort.ts";
import { AssertionFailure } from "../src/assert.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A full GC without starting the process with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("onAbort", () => {
  it("runs a callback once when the signal aborts", () => {
    const ac = new AbortController();
    const callback = vi.fn();
    onAbort(ac.signal, callback);
    expect(callback).not.toHaveBeenCalled();
    ac.abort();
    ac.abort(); // a second abort is a no-op for the signal, and must be for us too
    ac.signal.dispatchEvent(new Event("abort"));
    expect(callback).toHaveBeenCalledTimes(1);
  });

  it("does not run a callback whose forget() was called first", () => {
    const ac = new AbortController();
    const forgotten = vi.fn();
    const kept = vi.fn();
    const forget = onAbort(ac.signal, forgotten);
    onAbort(ac.signal, kept);
    forget();
    forget(); // idempotent
    ac.abort();
    expect(forgotten).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });

  it("keeps one 'abort' listener on a signal however many callbacks register", () => {
    const ac = new AbortController();
    const other = new AbortController();
    const calls: number[] = [];
    const forgets = Array.from({ length: 1_000 }, (_, i) =>
      onAbort(ac.signal, () => calls.push(i)),
    );
    onAbort(other.signal, () => calls.push(-1));
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
    expect(getEventListeners(other.signal, "abort")).toHaveLength(1);
    for (const forget of forgets) forget();
    // Registering again after everything was forgotten reuses the listener.
    onAbort(ac.signal, () => calls.push(1_000));
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
    ac.abort();
    expect(calls).toEqual([1_000]);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("lets the signal drop forgotten callbacks and what they hold, the first one too", async () => {
    const ac = new AbortController();
    const held: WeakRef<object>[] = [];
    // In a function of its own, so that no variable of the test keeps a payload alive.
    const registerAndForget = () => {
      const payload = { big: new Array(1_000).fill(0) };
      held.push(new WeakRef(payload));
      onAbort(ac.signal, () => payload.big.push(1))();
    };
    for (let i = 0; i < 3; i++) registerAndForget();
    // A WeakRef keeps its target alive until the current job ends: collect in a later one.
    await new Promise((r) => setTimeout(r, 0));
    collectGarbage();
    expect(held.map((ref) => ref.deref() === undefined)).toEqual([true, true, true]);
    expect(ac.signal.aborted).toBe(false); // the signal and its listener were alive all along
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
  });

  it("runs callbacks in registration order", () => {
    const ac = new AbortController();
    const order: string[] = [];
    onAbort(ac.signal, () => order.push("a"));
    const forgetB = onAbort(ac.signal, () => order.push("b"));
    onAbort(ac.signal, () => order.push("c"));
    forgetB();
    onAbort(ac.signal, () => order.push("d"));
    ac.abort();
    expect(order).toEqual(["a", "c", "d"]);
  });

  it("runs the other callbacks when one throws, and rethrows it in a microtask", () => {
    // The rethrow would be an uncaught exception: capture the microtask instead of letting it
    // reach the test runner's handler, and run it by hand.
    const queued: (() => void)[] = [];
    vi.spyOn(globalThis, "queueMicrotask").mockImplementation((task) => {
      queued.push(task);
    });
    const ac = new AbortController();
    const boom = new Error("boom");
    const ran: string[] = [];
    onAbort(ac.signal, () => ran.push("first"));
    onAbort(ac.signal, () => {
      ran.push("thrower");
      throw boom;
    });
    onAbort(ac.signal, () => ran.push("last"));
    expect(() => ac.abort()).not.toThrow();
    expect(ran).toEqual(["first", "thrower", "last"]);
    expect(queued).toHaveLength(1);
    expect(() => queued[0]!()).toThrow(boom);
  });

  it("refuses an already aborted signal", () => {
    const ac = new AbortController();
    ac.abort();
    const callback = vi.fn();
    expect(() => onAbort(ac.signal, callback)).toThrow(AssertionFailure);
    expect(callback).not.toHaveBeenCalled();
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });
});
