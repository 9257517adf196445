/**
 * MetadataService: where partitions live, answered from this broker's committed metadata
 * image (no controller round trip): live brokers with their client addresses, the active
 * controller, and topics with leader, leader epoch, replicas, ISR and offline replicas.
 */
import type { MetadataImage, TopicImage } from "@strand/controller";
import type {
  MetadataRequest__Output,
  MetadataResponse,
  MetadataServiceHandlers,
  PartitionMetadata,
  TopicMetadata,
} from "@strand/protocol";
import { ErrorCode, listField, stringField } from "@strand/protocol";
import { ALLOW_ALL, type CallAccess, callAccess, deniedMessage } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { unaryHandler } from "./instrument.ts";

/** One broker's client address from the image, or null when it has no client listener. */
export function clientAddress(
  image: MetadataImage,
  id: number,
): { host: string; port: number } | null {
  const broker = [...image.brokers.values()].find((b) => b.id === id);
  const l = broker?.listeners.find((x) => x.name === "client");
  return l === undefined ? null : { host: l.host, port: l.port };
}

function partitionMetadata(image: MetadataImage, topic: TopicImage): PartitionMetadata[] {
  const live = (id: number) => {
    const b = [...image.brokers.values()].find((x) => x.id === id);
    return b !== undefined && !b.fenced;
  };
  return [...topic.partitions.values()]
    .sort((a, b) => a.partition - b.partition)
    .map((p) => ({
      partition: p.partition,
      errorCode: p.leader === null ? ErrorCode.LEADER_NOT_AVAILABLE.code : 0,
      leaderId: p.leader ?? -1,
      leaderEpoch: p.leaderEpoch,
      replicas: [...p.replicas],
      isr: [...p.isr],
      offlineReplicas: p.replicas.filter((r) => !live(r)),
    }));
}

/**
 * Describes topics by name (all topics when `names` is null), errors inline. With `access`,
 * a listing leaves out the topics the caller may not DESCRIBE, and a named one it may not
 * describe answers TOPIC_AUTHORIZATION_FAILED whether or not it exists (as Kafka), so neither
 * reveals that a topic exists.
 */
export function topicMetadata(
  image: MetadataImage,
  names: readonly string[] | null,
  access: CallAccess = ALLOW_ALL,
): TopicMetadata[] {
  const wanted =
    names ??
    [...image.topicsByName.keys()].sort().filter((n) => access.visible("describe", "topic", n));
  return wanted.map((name) => {
    if (names !== null && !access.allowed("describe", "topic", name)) {
      const e = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      const text = deniedMessage(access.principal, "describe", "topic", name);
      return { name, topicId: "", errorCode: e.code, errorMessage: text, partitions: [] };
    }
    const topic = image.topicsByName.get(name);
    if (topic === undefined) {
      const e = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      return {
        name,
        topicId: "",
        errorCode: e.code,
        errorMessage: `${e.name}: topic ${name} does not exist; ${e.action}`,
        partitions: [],
      };
    }
    return {
      name,
      topicId: topic.id,
      errorCode: 0,
      errorMessage: "",
      partitions: partitionMetadata(image, topic),
    };
  });
}

/** Answers a MetadataRequest from `image`. */
export function metadataResponse(
  image: MetadataImage,
  controllerId: number,
  req: MetadataRequest__Output,
  access: CallAccess = ALLOW_ALL,
): MetadataResponse {
  const names = req.allTopics
    ? null
    : listField(req.topics, "topics").map((t, i) => stringField(t, `topics[${i}]`));
  const brokers = [...image.brokers.values()]
    .filter((b) => !b.fenced)
    .sort((a, b) => a.id - b.id)
    .flatMap((b) => {
      const a = clientAddress(image, b.id);
      return a === null
        ? []
        : [
            {
              brokerId: b.id,
              host: a.host,
              port: a.port,
              ...(b.rack === null ? {} : { rack: b.rack }),
            },
          ];
    });
  return {
    brokers,
    controllerId,
    topics: topicMetadata(image, names, access),
    metadataOffset: String(image.offset),
  };
}

/** The MetadataService handlers. */
export function metadataServiceHandlers(ctx: ServiceContext): MetadataServiceHandlers {
  return {
    Metadata: unaryHandler(ctx, "Metadata", async (call) =>
      metadataResponse(ctx.image(), ctx.controllerId(), call.request, await callAccess(ctx, call)),
    ),
  };
}
