/**
 * The pure Raft core: no I/O, no clock, no randomness except the injected {@link Rng}.
 * @packageDocumentation
 */
export type { ConfigAt } from "./log.ts";
export { RaftNode } from "./node.ts";
export type { RaftNodeOptions, UnsafeOptions } from "./options.ts";
export type { Rng } from "./rng.ts";
export { SeededRng } from "./rng.ts";
export type { MemoryStorageOptions, RaftStorage } from "./storage.ts";
export { MemoryStorage } from "./storage.ts";
export * from "./types.ts";
