/**
 * The AbortSignal of one client call: it fires when the client cancels the call or the node
 * shuts down, until the handler says the call is answered.
 *
 * Why "until answered": grpc-js emits `cancelled` when any call's HTTP/2 stream closes, an
 * answered one included. Aborting then built a DOMException (stack trace and all) and ran the
 * abort listeners for every Fetch, about 2 % of a leader's busy time at light load, for a
 * signal nobody listens to any more. A callback on the shutdown signal, dropped on answer,
 * also replaces an `AbortSignal.any` per call; it is registered through `onAbort`, not as a
 * listener, because a listener per call on the long-lived shutdown signal made every call's
 * objects survive young-generation GC (see @strand/base abort.ts).
 */

import { onAbort } from "@strand/base";

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
  let forget: (() => void) | null = null;
  const answered = () => {
    if (done) return;
    done = true;
    forget?.();
  };
  call.on("cancelled", () => {
    if (done) return;
    controller.abort();
    answered();
  });
  if (shutdown.aborted) controller.abort(shutdown.reason);
  else
    forget = onAbort(shutdown, () => {
      if (!done) controller.abort(shutdown.reason);
    });
  return { signal: controller.signal, answered };
}
