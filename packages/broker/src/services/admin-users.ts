/**
 * AdminService's SCRAM users (Kafka's KIP-554): AlterUserScramCredentials takes the salted
 * password the client computed (the password never reaches a broker), derives StoredKey and
 * ServerKey here and writes them through the active controller, one user at a time; the
 * salted password itself is neither stored nor logged. DescribeUserScramCredentials answers
 * names, mechanisms and iterations from the local image, never keys.
 */
import type { MetadataImage } from "@strand/controller";
import type {
  AdminScramResult,
  AdminScramUser,
  AdminServiceAlterUserScramCredentialsRequest__Output,
  AdminServiceAlterUserScramCredentialsResponse,
  AdminServiceDescribeUserScramCredentialsRequest__Output,
  AdminServiceDescribeUserScramCredentialsResponse,
  ControllerError__Output,
} from "@strand/protocol";
import {
  ErrorCode,
  InvalidArgumentError,
  int32Field,
  listField,
  scramHashOf,
  scramKeys,
  stringField,
} from "@strand/protocol";
import { askController } from "./admin.ts";
import type { ServiceContext } from "./context.ts";

/** Most users one request may change. */
const CHANGES_MAX = 100;

function bytesField(v: unknown, field: string, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max)
    throw new InvalidArgumentError(`${field} must be ${min}..${max} bytes`);
  return v;
}

function result(name: string, error: ControllerError__Output | null | undefined): AdminScramResult {
  if (error === null || error === undefined || error.code === 0)
    return { name, errorCode: 0, errorMessage: "" };
  return { name, errorCode: error.code, errorMessage: `${error.name}: ${error.message}` };
}

/** Upsertions first, then deletions, each answered on its own (request order). */
export async function alterUserScramCredentials(
  ctx: ServiceContext,
  req: AdminServiceAlterUserScramCredentialsRequest__Output,
): Promise<AdminServiceAlterUserScramCredentialsResponse> {
  const upsertions = listField(req.upsertions, "upsertions");
  const deletions = listField(req.deletions, "deletions");
  if (upsertions.length + deletions.length > CHANGES_MAX)
    throw new InvalidArgumentError(`at most ${CHANGES_MAX} changes per request`);
  const requests = [
    ...upsertions.map((u, i) => {
      const mechanism = stringField(u.mechanism, `upsertions[${i}].mechanism`, 1);
      const hash = scramHashOf(mechanism);
      const salted = bytesField(u.saltedPassword, `upsertions[${i}].salted_password`, 1, 128);
      // A wrong size or unknown mechanism still goes to the controller for its clear refusal.
      const keys = hash === null ? null : scramKeys(salted, hash);
      return {
        name: stringField(u.name, `upsertions[${i}].name`),
        mechanism,
        delete: false,
        salt: bytesField(u.salt, `upsertions[${i}].salt`, 0, 1024),
        iterations: int32Field(u.iterations, `upsertions[${i}].iterations`),
        storedKey: keys?.storedKey ?? Buffer.alloc(0),
        serverKey: keys?.serverKey ?? Buffer.alloc(0),
      };
    }),
    ...deletions.map((d, i) => ({
      name: stringField(d.name, `deletions[${i}].name`),
      mechanism: stringField(d.mechanism, `deletions[${i}].mechanism`, 1),
      delete: true,
    })),
  ];
  const results: AdminScramResult[] = [];
  for (const r of requests) {
    const response = await askController("AlterUserScramCredential", () =>
      ctx.controller.alterUserScramCredential(r),
    );
    results.push(result(r.name, response.error));
  }
  // Answer once this broker's image shows the changes that were accepted, so a login here
  // right after `strand user create` finds the user (a refused change is not waited for).
  // The last accepted change of each user decides what the image must show.
  const deleted = new Map<string, boolean>();
  requests.forEach((r, i) => {
    if (results[i]?.errorCode === 0) deleted.set(r.name, r.delete);
  });
  await ctx.waitForImage(
    (image) =>
      [...deleted].every(
        ([name, gone]) => (image.users.get(name)?.has("SCRAM-SHA-512") === true) !== gone,
      ),
    ctx.defaults.requestTimeoutMs,
  );
  return { results };
}

/** Every user (or the named ones), sorted, with mechanisms and iterations only. */
export function describeUserScramCredentials(
  image: MetadataImage,
  req: AdminServiceDescribeUserScramCredentialsRequest__Output,
): AdminServiceDescribeUserScramCredentialsResponse {
  const names = listField(req.names, "names").map((n, i) => stringField(n, `names[${i}]`, 1));
  const wanted = names.length === 0 ? [...image.users.keys()].sort() : names;
  const users: AdminScramUser[] = wanted.map((name) => {
    const credentials = image.users.get(name);
    if (credentials === undefined)
      return {
        name,
        credentials: [],
        errorCode: ErrorCode.RESOURCE_NOT_FOUND.code,
        errorMessage: `user ${name} has no SCRAM credentials`,
      };
    return {
      name,
      credentials: [...credentials.values()].map((c) => ({
        mechanism: c.mechanism,
        iterations: c.iterations,
      })),
      errorCode: 0,
      errorMessage: "",
    };
  });
  return { users };
}
