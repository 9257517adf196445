/**
 * A protobuf codec for the few messages that carry records bytes (produce, fetch, subscribe,
 * replica fetch), driven by field tables built once from the same descriptor protobufjs uses.
 *
 * Why not protobufjs: proto-loader's serializer builds a protobufjs message (`fromObject`,
 * a `Long` per int64) and a writer op list before it copies the bytes; its deserializer builds
 * a message and then a second, plain object (`toObject`, a `Long` and its string per int64).
 * Per records field that is little, but it is several objects per partition per request on
 * the hottest path of the broker. This codec reads straight into the plain object and writes
 * straight into one buffer sized by a first pass.
 *
 * Contract (tested against protobufjs in both directions, test/bulk-codec.test.ts):
 * - `encode(obj)` gives the bytes `Type.encode(Type.fromObject(obj)).finish()` gives: a field
 *   is written when its value is not null/undefined (repeated: when non-empty), in field order.
 * - `decode(bytes)` gives what proto-loader's deserializer gives with longs: String, enums:
 *   String, defaults: true, oneofs: true; a `bytes` field is a subarray of `bytes`, not a copy.
 * - Unknown fields are skipped. Truncated input, over-long varints, lengths past the enclosing
 *   message, invalid wire types and a known field with the wrong wire type throw (protobufjs
 *   reads the last kind of input anyway, as garbage); the broker's lenient definition turns a
 *   throw into INVALID_ARGUMENT.
 */
export { decodeMessage } from "./bulk-decode.ts";
export { encodeMessage } from "./bulk-encode.ts";
export { type MessageSpec, messageSpec } from "./bulk-spec.ts";
