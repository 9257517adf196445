/**
 * @strand/raft: Raft consensus as a pure, deterministic core plus (later) a driver that binds
 * it to disk, clock and transport. See docs/raft.md.
 * @packageDocumentation
 */
export * from "./core/index.ts";
