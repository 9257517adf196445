/**
 * The AbortSignal of one client call: it fires when the client cancels the call or the node
 * shuts down, until the handler says the call is answered.
 *
 * Why "until answered": grpc-js emits `cancelled` when any call's HTTP/2 stream closes, an
 * answered one included. Aborting then built a DOMException (stack trace and all) and ran the
 * abort listeners for every Fetch, about 2 % of a leader's busy time at light load, for a
 * signal nobody listens to any more. A plain listener on the shutdown signal, removed on
 * answer, also replaces an `AbortSignal.any` per call.
 */

/** The part of a grpc-js server call this needs. */
export interface CancellableCall {
  on(event: "cancelled", listener: () => void): unknown;
}

/** A call's signal and the handler's "answered" mark. */
export interface CallSignal {
  readonly signal: AbortSignal;
  /** The answer is decided: later cancellations (the stream closing) are not aborts. */
  answered(): void;
}

/** See the module comment. */
export function callSignal(shutdown: AbortSignal, call: CancellableCall): CallSignal {
  const controller = new AbortController();
  let done = false;
  const onShutdown = () => {
    if (!done) controller.abort(shutdown.reason);
  };
  const answered = () => {
    if (done) return;
    done = true;
    shutdown.removeEventListener("abort", onShutdown);
  };
  call.on("cancelled", () => {
    if (done) return;
    controller.abort();
    answered();
  });
  if (shutdown.aborted) controller.abort(shutdown.reason);
  else shutdown.addEventListener("abort", onShutdown, { once: true });
  return { signal: controller.signal, answered };
}
