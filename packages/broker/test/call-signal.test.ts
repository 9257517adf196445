import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { callSignal } from "../src/services/call-signal.ts";

describe("callSignal", () => {
  it("aborts when the client cancels a call that is not answered yet", () => {
    const call = new EventEmitter();
    const { signal } = callSignal(new AbortController().signal, call);
    call.emit("cancelled");
    expect(signal.aborted).toBe(true);
  });

  it("does not abort when grpc-js reports the answered call's stream closing", () => {
    const call = new EventEmitter();
    const cancel = callSignal(new AbortController().signal, call);
    let aborts = 0;
    cancel.signal.addEventListener("abort", () => aborts++);
    cancel.answered();
    call.emit("cancelled");
    expect(cancel.signal.aborted).toBe(false);
    expect(aborts).toBe(0);
  });

  it("aborts on shutdown before the answer, and stops listening to shutdown after it", () => {
    const shutdown = new AbortController();
    const first = callSignal(shutdown.signal, new EventEmitter());
    const second = callSignal(shutdown.signal, new EventEmitter());
    second.answered();
    shutdown.abort(new Error("stopping"));
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toBe(shutdown.signal.reason);
    expect(second.signal.aborted).toBe(false);
  });

  it("starts aborted when the node is already shutting down", () => {
    const shutdown = new AbortController();
    shutdown.abort();
    expect(callSignal(shutdown.signal, new EventEmitter()).signal.aborted).toBe(true);
  });
});
