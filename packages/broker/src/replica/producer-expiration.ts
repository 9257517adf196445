/**
 * Bounding producer state: a producer id with no write to a partition for
 * `producerIdExpirationMs` (Kafka's producer.id.expiration.ms, 7 days here as Kafka's
 * transactional.id.expiration.ms) is forgotten there; a later batch of it must start at
 * sequence 0 or is answered UNKNOWN_PRODUCER_ID. Checked every
 * `producerIdExpirationCheckIntervalMs` (Kafka: 10 minutes).
 */

import type { Logger } from "@strand/base";
import { assert } from "@strand/base";
import type { PartitionProducerState } from "./partition-producers.ts";

/** Default idle time after which a producer id's state is forgotten: 7 days. */
export const PRODUCER_ID_EXPIRATION_MS_DEFAULT = 7 * 24 * 60 * 60 * 1_000;
/** Default interval between expiration checks: 10 minutes. */
export const PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS_DEFAULT = 10 * 60 * 1_000;

/** Producer-state settings of a replica manager. */
export interface ProducerStateSettings {
  /** Idle time (by batch timestamps) after which a producer id is forgotten. */
  readonly producerIdExpirationMs?: number;
  /** How often expiration runs. */
  readonly producerIdExpirationCheckIntervalMs?: number;
}

/** Settings with defaults filled in, checked. */
export function resolveProducerStateSettings(
  settings: ProducerStateSettings = {},
): Required<ProducerStateSettings> {
  const resolved = {
    producerIdExpirationMs: settings.producerIdExpirationMs ?? PRODUCER_ID_EXPIRATION_MS_DEFAULT,
    producerIdExpirationCheckIntervalMs:
      settings.producerIdExpirationCheckIntervalMs ??
      PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS_DEFAULT,
  };
  assert(
    Number.isSafeInteger(resolved.producerIdExpirationMs) && resolved.producerIdExpirationMs > 0,
    "producerIdExpirationMs must be a positive integer",
  );
  assert(
    Number.isSafeInteger(resolved.producerIdExpirationCheckIntervalMs) &&
      resolved.producerIdExpirationCheckIntervalMs > 0,
    "producerIdExpirationCheckIntervalMs must be a positive integer",
  );
  return resolved;
}

/** Forgets idle producer ids in every partition; logs how many went. */
export function expireProducers(
  partitions: Iterable<{ readonly key: string; readonly producers: PartitionProducerState }>,
  nowMs: number,
  expirationMs: number,
  logger: Logger,
): void {
  let removed = 0;
  for (const p of partitions) removed += p.producers.removeExpired(nowMs, expirationMs);
  if (removed > 0) logger.info({ removed, expirationMs }, "expired idle producer ids");
}
