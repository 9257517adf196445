/**
 * Channel and server options of the two listeners, with one message-size limit each
 * (docs/errors.md, "Request limits"). Plain data: pass them to `new grpc.Server(...)` or a
 * client constructor; nothing here opens a socket.
 */
import type { ChannelOptions } from "@grpc/grpc-js";

/**
 * Largest gRPC message on the client listener, either way (Kafka's socket.request.max.bytes):
 * a produce may carry up to max.message.bytes per partition, far past grpc-js's 4 MiB default.
 * Servers, forwarding stubs and SDK channels all use it, so a message one end may send the
 * other end accepts.
 */
export const CLIENT_MESSAGE_BYTES_MAX = 100 * 1024 * 1024;

/**
 * Largest request the internal listener (Raft, ControllerService, ReplicationService) accepts:
 * grpc-js's 4 MiB default, made explicit. Raft batches stay below it (3 MiB). Responses are
 * bounded by the request instead (a replica fetch names its own maximum), so a caller that
 * asks for more sets its channel's receive limit with {@link internalChannelOptions}.
 */
export const INTERNAL_MESSAGE_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Options of the client listener's `grpc.Server`. `receiveBytesMax` is the largest request it
 * accepts (the node passes `socket.request.max.bytes`); grpc-js applies it to a gzip/deflate
 * compressed message's *decompressed* size, stopping the inflater there with
 * RESOURCE_EXHAUSTED, so it also bounds what a small compressed request may inflate to.
 * grpc-js (1.14) has no option to refuse compressed requests outright.
 */
export function clientServerOptions(
  receiveBytesMax: number = CLIENT_MESSAGE_BYTES_MAX,
): ChannelOptions {
  return {
    "grpc.max_receive_message_length": Math.min(receiveBytesMax, CLIENT_MESSAGE_BYTES_MAX),
    "grpc.max_send_message_length": CLIENT_MESSAGE_BYTES_MAX,
  };
}

/** Options of a channel to a client listener (SDK, forwarding, tests, tools). */
export function clientChannelOptions(): ChannelOptions {
  return {
    "grpc.max_receive_message_length": CLIENT_MESSAGE_BYTES_MAX,
    "grpc.max_send_message_length": CLIENT_MESSAGE_BYTES_MAX,
  };
}

/** Options of the internal listener's `grpc.Server`: requests up to the internal limit. */
export function internalServerOptions(): ChannelOptions {
  return { "grpc.max_receive_message_length": INTERNAL_MESSAGE_BYTES_MAX };
}

/**
 * Options of a channel to an internal listener: requests up to the internal limit, responses
 * up to `receiveBytesMax` (default the same limit; a replica fetcher passes its response
 * maximum plus framing room).
 */
export function internalChannelOptions(
  receiveBytesMax: number = INTERNAL_MESSAGE_BYTES_MAX,
): ChannelOptions {
  return {
    "grpc.max_receive_message_length": receiveBytesMax,
    "grpc.max_send_message_length": INTERNAL_MESSAGE_BYTES_MAX,
  };
}
