/** The storage's time seam: retention and segment rolling read an injected clock. */

/** A clock returning wall-clock milliseconds; injected so tests control time. */
export type Clock = () => number;

/** The default clock: `Date.now`, used only when the caller injects none. */
export const systemClock: Clock = () => Date.now();
