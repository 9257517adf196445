/**
 * @strand/protocol: wire and record formats. Pure: no I/O.
 * @packageDocumentation
 */
export * from "./batch-header.ts";
export * from "./batch-iterator.ts";
export { crc32c } from "./crc32c.ts";
export * from "./errors.ts";
