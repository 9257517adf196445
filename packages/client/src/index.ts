/**
 * @strand/client: the TypeScript SDK (Admin, Producer, Consumer, metadata cache).
 * @packageDocumentation
 */
export {};
