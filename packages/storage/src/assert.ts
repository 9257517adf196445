/**
 * Storage's assertions: invariants that stay on in production, as in the Raft core. A broken
 * one means the files may not match memory, so the log goes offline (see Log's failure funnel).
 *
 * One import point so storage can move to a shared base package by changing this file only.
 * It re-exports protocol's pair rather than defining its own, because protocol code that
 * storage calls (batch headers) throws that same class and the funnel must recognise it.
 */
export { AssertionFailure, assert } from "@strand/protocol";
