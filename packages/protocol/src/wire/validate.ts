/**
 * Field validators of the gRPC edges, with one error type. proto-loader hands a service
 * untrusted plain objects (int64 as decimal strings, lists of any length); every field is
 * checked here before it reaches code that asserts, so bad input becomes INVALID_ARGUMENT
 * with a message naming the field, never a crash. The per-request limits are documented in
 * docs/errors.md ("Request limits").
 */

/** Most items in one repeated field of a client-listener request (Produce, Fetch, Admin...). */
export const CLIENT_REQUEST_ITEMS_MAX = 10_000;
/**
 * Most items in one repeated field of an internal-listener request (ControllerService: topics,
 * names, config changes, listeners, ISR members). Lower than the client limit: every item
 * becomes a metadata record the whole quorum stores and replays.
 */
export const INTERNAL_REQUEST_ITEMS_MAX = 1_000;
/** Longest string accepted in a request field (names, hosts, config values), in UTF-16 units. */
export const STRING_LENGTH_MAX = 4_096;
/** Longest wait a client may ask for (fetch max wait, produce timeout). */
export const WAIT_MS_MAX = 5 * 60_000;
/** Longest topic name (Kafka's 249: leaves room for a partition suffix in a 255-byte dir name). */
export const TOPIC_NAME_LENGTH_MAX = 249;

const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const TOPIC_NAME_CHARS = /^[a-zA-Z0-9._-]+$/;
const UINT53 = /^(0|[1-9]\d{0,15})$/;

/** A request field is malformed: answered with gRPC INVALID_ARGUMENT and this message. */
export class InvalidArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidArgumentError";
  }
}

/**
 * Returns why `name` is not a legal topic name, or null when it is. The one topic-name rule
 * (Kafka's): 1..249 characters of [a-zA-Z0-9._-], and not "." or "..".
 */
export function topicNameError(name: string): string | null {
  if (name.length === 0) return "topic name is empty";
  if (name === "." || name === "..") return `topic name "${name}" is reserved`;
  if (name.length > TOPIC_NAME_LENGTH_MAX) {
    return `topic name is ${name.length} characters, more than ${TOPIC_NAME_LENGTH_MAX}`;
  }
  if (!TOPIC_NAME_CHARS.test(name))
    return `topic name "${name}" has characters outside [a-zA-Z0-9._-]`;
  return null;
}

/** True when `name` is a legal topic name ({@link topicNameError} finds nothing). */
export function isTopicName(name: unknown): name is string {
  return typeof name === "string" && topicNameError(name) === null;
}

/** Checks a topic name field; returns it. */
export function topicField(name: unknown, field: string): string {
  if (!isTopicName(name))
    throw new InvalidArgumentError(
      `${field} ${JSON.stringify(String(name).slice(0, 300))} is not a topic name: use 1-249 characters of [a-zA-Z0-9._-], not "." or ".."`,
    );
  return name;
}

/** Parses an int64 decimal string into a bigint within [min, max]; names the field if not. */
export function int64Field(text: unknown, field: string, min = INT64_MIN, max = INT64_MAX): bigint {
  if (typeof text !== "string" || !/^-?\d{1,19}$/.test(text))
    throw new InvalidArgumentError(
      `${field} must be a 64-bit integer, got ${JSON.stringify(text)}`,
    );
  const n = BigInt(text);
  if (n < min || n > max)
    throw new InvalidArgumentError(`${field} must be in [${min}, ${max}], got ${n}`);
  return n;
}

/**
 * A non-negative int64 (decimal string or number) that fits a JS safe integer, as a number:
 * for offsets and epochs that never leave the safe range (metadata offsets, broker epochs).
 */
export function uint53Field(v: unknown, field: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v !== "string" || !UINT53.test(v) || !Number.isSafeInteger(Number(v)))
    throw new InvalidArgumentError(
      `${field} must be a non-negative integer below 2^53, got ${String(v)}`,
    );
  return Number(v);
}

/** Checks an int32 field lies in [min, max]. */
export function int32Field(n: unknown, field: string, min = 0, max = INT32_MAX): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(
      `${field} must be an integer in [${min}, ${max}], got ${String(n)}`,
    );
  return n;
}

/**
 * Checks a repeated field's size: at least `min` items, at most `max` (the client listener's
 * limit unless the caller serves the internal listener).
 */
export function listField<T>(
  list: readonly T[],
  field: string,
  min = 0,
  max = CLIENT_REQUEST_ITEMS_MAX,
): readonly T[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${field} must be a list`);
  if (list.length < min) throw new InvalidArgumentError(`${field} needs at least ${min} item(s)`);
  if (list.length > max)
    throw new InvalidArgumentError(`${field} has ${list.length} items; at most ${max}`);
  return list;
}

/**
 * Checks the items of a request's nested lists in total (e.g. the partitions of all topics):
 * the per-list cap alone let one Fetch name 10,000 topics x 10,000 partitions. Call it before
 * parsing the items, so an oversized request costs a count, not the work it asks for.
 * `count(item)` is how many items one outer entry brings (non-arrays count as 0 here;
 * {@link listField} reports them).
 */
export function totalItemsField<T>(
  list: readonly T[],
  count: (item: T) => unknown,
  field: string,
  max = CLIENT_REQUEST_ITEMS_MAX,
): void {
  if (!Array.isArray(list)) return;
  let total = 0;
  for (const item of list) {
    const n = count(item);
    total += Array.isArray(n) ? n.length : typeof n === "number" && n > 0 ? n : 0;
  }
  if (total > max)
    throw new InvalidArgumentError(
      `${field} name ${total} items in total; at most ${max} per request (split the request)`,
    );
}

/** Checks a free-form string: at least `minLength` and at most {@link STRING_LENGTH_MAX} long. */
export function stringField(text: unknown, field: string, minLength = 0): string {
  if (typeof text !== "string" || text.length < minLength || text.length > STRING_LENGTH_MAX)
    throw new InvalidArgumentError(
      `${field} must be a ${minLength > 0 ? "non-empty " : ""}string of at most ${STRING_LENGTH_MAX} characters`,
    );
  return text;
}

/** Refuses a key (e.g. a topic-partition) named twice in one request. */
export function noDuplicates(keys: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw new InvalidArgumentError(`${what} ${k} appears twice; name each once`);
    seen.add(k);
  }
}
