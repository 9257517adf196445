/**
 * The ACL operations (Kafka's AclOperation, lower-case): the vocabulary the controller
 * records in AccessControlEntry records, the broker checks and the SDK and CLI send, kept
 * in one place.
 */

/** The operations an ACL allows or denies. */
export const ACL_OPERATIONS = [
  "all",
  "read",
  "write",
  "create",
  "delete",
  "alter",
  "describe",
  "describe_configs",
  "alter_configs",
  "idempotent_write",
] as const;

/** One of {@link ACL_OPERATIONS}. */
export type AclOperation = (typeof ACL_OPERATIONS)[number];
