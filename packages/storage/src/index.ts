/**
 * @strand/storage: the partition log. Files only, no network.
 * @packageDocumentation
 */
export {};
