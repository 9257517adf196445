/**
 * The field tables of the bulk codec (bulk-codec.ts): built once per message type from the
 * protobufjs reflection of the same descriptor proto-loader uses, so they cannot disagree with
 * it on field numbers, names, kinds or enum values.
 */
import type protobuf from "protobufjs";

/** The scalar kinds the codec supports; a message using another kind is refused at load. */
export type Kind =
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "bool"
  | "string"
  | "bytes"
  | "enum"
  | "message";

/** Wire type of varints. */
export const VARINT = 0;
/** Wire type of length-delimited values. */
export const LEN = 2;

/** One field of a message, as the codec reads and writes it. */
export interface FieldSpec {
  readonly id: number;
  readonly name: string;
  readonly kind: Kind;
  readonly repeated: boolean;
  /** proto3 `optional`: absent from decoded objects unless present, plus `_name`. */
  readonly optionalKey: string | null;
  /** The tag written before each value (for packed repeated scalars, the packed tag). */
  readonly tag: number;
  readonly enumNames: ReadonlyMap<number, string> | null;
  readonly enumValues: ReadonlyMap<string, number> | null;
  message: MessageSpec | null;
}

/** One message's field table. */
export interface MessageSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  /** Fields by number (sparse). */
  readonly byId: readonly (FieldSpec | undefined)[];
}

const SCALARS: ReadonlySet<string> = new Set([
  "int32",
  "uint32",
  "int64",
  "uint64",
  "bool",
  "string",
  "bytes",
]);

/**
 * The field table of `type` and of every message it contains (cached per type).
 * @throws Error when a field has a kind this codec does not implement (a proto change that
 * needs code here, caught by the tests at load time).
 */
export function messageSpec(type: protobuf.Type): MessageSpec {
  return specOf(type, new Map());
}

function specOf(type: protobuf.Type, seen: Map<protobuf.Type, MessageSpec>): MessageSpec {
  const cached = seen.get(type);
  if (cached !== undefined) return cached;
  const fields: FieldSpec[] = [];
  const byId: (FieldSpec | undefined)[] = [];
  const spec: MessageSpec = { name: type.fullName, fields, byId };
  seen.set(type, spec);
  const pending: [FieldSpec, protobuf.Type][] = [];
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.map) throw new Error(`${type.fullName}.${field.name}: map fields are not supported`);
    const resolved = field.resolvedType;
    let kind: Kind;
    let enumNames: Map<number, string> | null = null;
    let enumValues: Map<string, number> | null = null;
    if (resolved !== null && "fieldsArray" in resolved) kind = "message";
    else if (resolved !== null) {
      kind = "enum";
      enumValues = new Map(Object.entries(resolved.values));
      enumNames = new Map([...enumValues].map(([name, value]) => [value, name]));
    } else if (SCALARS.has(field.type)) kind = field.type as Kind;
    else throw new Error(`${type.fullName}.${field.name}: type ${field.type} is not supported`);
    const packed = field.repeated && kind !== "message" && kind !== "string" && kind !== "bytes";
    const wire =
      kind === "message" || kind === "string" || kind === "bytes" || packed ? LEN : VARINT;
    const synthetic = field.partOf !== null && field.partOf.name === `_${field.name}`;
    if (field.partOf !== null && !synthetic)
      throw new Error(`${type.fullName}.${field.name}: oneof fields are not supported`);
    const entry: FieldSpec = {
      id: field.id,
      name: field.name,
      kind,
      repeated: field.repeated,
      optionalKey: synthetic ? `_${field.name}` : null,
      tag: (field.id << 3) | wire,
      enumNames,
      enumValues,
      message: null,
    };
    if (kind === "message") pending.push([entry, resolved as protobuf.Type]);
    fields.push(entry);
    byId[field.id] = entry;
  }
  for (const [entry, child] of pending) entry.message = specOf(child, seen);
  // protobufjs writes fields in field-number order, whatever the declaration order.
  fields.sort((a, b) => a.id - b.id);
  return spec;
}
