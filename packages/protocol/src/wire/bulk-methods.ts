/**
 * Which gRPC methods move records bytes, and the installation of the bulk codec
 * (bulk-codec.ts) as their serializers in the one package definition, so the broker, the
 * SDK, the CLI and the benchmarks all use it without knowing.
 */
import type * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { decodeMessage, encodeMessage, type MessageSpec, messageSpec } from "./bulk-codec.ts";

/** The methods whose requests or responses carry records bytes, as "service/method". */
export const BULK_METHODS: readonly string[] = Object.freeze([
  "strand.v1.ProduceService/Produce",
  "strand.v1.ProduceService/ProduceStream",
  "strand.v1.FetchService/Fetch",
  "strand.v1.FetchService/Subscribe",
  "strand.v1.FetchService/FetchStream",
  "strand.v1.ReplicationService/ReplicaFetch",
]);

/** A serializer/deserializer pair for one message type. */
export interface BulkCodec {
  readonly serialize: (value: object) => Buffer;
  readonly deserialize: (bytes: Buffer) => Record<string, unknown>;
}

/** The bulk codec of a resolved message type. */
export function bulkCodec(type: protobuf.Type): BulkCodec {
  const spec: MessageSpec = messageSpec(type);
  return {
    serialize: (value) => encodeMessage(spec, value),
    deserialize: (bytes) => decodeMessage(spec, bytes),
  };
}

/**
 * Replaces the serializers of {@link BULK_METHODS} in `definition` (built from
 * `descriptor` by proto-loader) with the bulk codec; other methods keep protobufjs.
 */
export function installBulkCodec(
  definition: protoLoader.PackageDefinition,
  descriptor: protobuf.INamespace,
): void {
  const root = protobuf.Root.fromJSON(descriptor);
  root.resolveAll();
  for (const path of BULK_METHODS) {
    const [serviceName, methodName] = path.split("/") as [string, string];
    const service = definition[serviceName] as protoLoader.ServiceDefinition | undefined;
    const method = service?.[methodName];
    const reflected = root.lookupService(serviceName).methods[methodName];
    const requestType = reflected?.resolvedRequestType;
    const responseType = reflected?.resolvedResponseType;
    if (service === undefined || method === undefined || !requestType || !responseType)
      throw new Error(`no method ${path}`);
    const request = bulkCodec(requestType);
    const response = bulkCodec(responseType);
    service[methodName] = {
      ...method,
      requestSerialize: request.serialize,
      requestDeserialize: request.deserialize,
      responseSerialize: response.serialize,
      responseDeserialize: response.deserialize,
    };
  }
}
