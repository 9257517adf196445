/**
 * @strand/raft: Raft consensus as a pure, deterministic core plus a driver.
 * @packageDocumentation
 */
export {};
