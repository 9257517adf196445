/**
 * Snapshots: an image written as records (the "image as records" of Kafka's KRaft snapshots)
 * and loaded back by replaying them into the empty image. Loading a snapshot taken at offset
 * N and replaying the log after N gives the same image as replaying the whole log.
 */
import { applyBatch, EMPTY_IMAGE, type MetadataImage } from "./image.ts";
import type { MetadataRecord } from "./records.ts";

/** The records that rebuild `image` from the empty image. Deterministic order. */
export function imageToRecords(image: MetadataImage): MetadataRecord[] {
  const out: MetadataRecord[] = [];
  if (image.clusterId !== null) out.push({ type: "clusterId", clusterId: image.clusterId });
  for (const [name, level] of [...image.features].sort(([a], [b]) => a.localeCompare(b))) {
    out.push({ type: "featureLevel", name, level });
  }
  for (const b of [...image.brokers.values()].sort((x, y) => x.id - y.id)) {
    out.push({
      type: "registerBroker",
      brokerId: b.id,
      incarnationId: b.incarnationId,
      listeners: b.listeners,
      rack: b.rack,
      fenced: b.fenced,
      brokerEpoch: b.epoch,
      inControlledShutdown: b.inControlledShutdown,
    });
  }
  for (const topic of [...image.topicsById.values()].sort((x, y) => x.name.localeCompare(y.name))) {
    out.push({ type: "topic", name: topic.name, topicId: topic.id });
    for (const p of [...topic.partitions.values()].sort((x, y) => x.partition - y.partition)) {
      out.push({ type: "partition", ...p });
    }
  }
  for (const [resourceKey, entries] of [...image.configs].sort(([a], [b]) => a.localeCompare(b))) {
    const slash = resourceKey.indexOf("/");
    const resource = {
      type: resourceKey.slice(0, slash) as "topic" | "broker" | "cluster",
      name: resourceKey.slice(slash + 1),
    };
    for (const [key, value] of [...entries].sort(([a], [b]) => a.localeCompare(b))) {
      out.push({ type: "config", resource, key, value });
    }
  }
  for (const [name, credentials] of [...image.users].sort(([a], [b]) => a.localeCompare(b))) {
    for (const credential of credentials.values()) {
      out.push({ type: "userScramCredential", name, ...credential });
    }
  }
  for (const entry of [...image.acls.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    out.push({ type: "accessControlEntry", entry });
  }
  if (image.lastProducerIdsBlock !== null) {
    out.push({ type: "producerIdsBlock", ...image.lastProducerIdsBlock });
  }
  return out;
}

/** Builds the image a snapshot describes; `image.offset`/`epoch` come from the provenance. */
export function loadSnapshot(
  records: readonly MetadataRecord[],
  provenance: { readonly offset: MetadataImage["offset"]; readonly epoch: number },
): MetadataImage {
  return applyBatch(EMPTY_IMAGE, records, provenance).image;
}
