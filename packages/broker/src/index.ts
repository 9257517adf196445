/**
 * @strand/broker: the node process: gRPC services, replica manager, replication, routing.
 * @packageDocumentation
 */
export {};
