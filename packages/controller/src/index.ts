/**
 * @strand/controller: the cluster metadata state machine on top of Raft.
 * @packageDocumentation
 */
export {};
