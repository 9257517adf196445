/**
 * SCRAM users (docs/security.md): the pure handler of AlterUserScramCredential and the rules a
 * credential must meet. The controller stores what verifies a password proof (StoredKey,
 * ServerKey), never a password; the broker derives the keys from the client's salted password.
 */
import { ErrorCode } from "@strand/protocol";
import { fail, OK } from "./brokers.ts";
import type { ScramMechanism } from "./records.ts";
import type {
  AlterUserScramCredentialRequest,
  ControllerResult,
  QuorumControllerState,
  ResponseBase,
} from "./requests.ts";

/** The mechanisms a credential may use. */
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ["SCRAM-SHA-512"];
/** RFC 7677's minimum iteration count. */
export const SCRAM_ITERATIONS_MIN = 4096;
/** Bounds one login's cost on the broker (PBKDF2 runs on the client, but keep it sane). */
export const SCRAM_ITERATIONS_MAX = 1_000_000;
/** SHA-512's output: the size of StoredKey and ServerKey. */
const SHA512_BYTES = 64;

/** Why `name` cannot be a user name, or null. Printable ASCII without ',' and '=' (RFC 5802 saslname escaping is not worth the ambiguity). */
export function userNameError(name: string): string | null {
  if (name.length < 1 || name.length > 256) return "a user name has 1..256 characters";
  if (!/^[\x21-\x7e]+$/.test(name) || /[,=]/.test(name))
    return `user name ${JSON.stringify(name)} must be printable ASCII without spaces, ',' or '='`;
  return null;
}

/** Why a credential upsertion must be refused, or null. */
export function credentialError(req: AlterUserScramCredentialRequest): string | null {
  const bad = userNameError(req.name);
  if (bad !== null) return bad;
  if (!SCRAM_MECHANISMS.includes(req.mechanism))
    return `mechanism ${JSON.stringify(req.mechanism)} is not supported (SCRAM-SHA-512)`;
  const c = req.credential;
  if (c === null) return null;
  if (
    !Number.isInteger(c.iterations) ||
    c.iterations < SCRAM_ITERATIONS_MIN ||
    c.iterations > SCRAM_ITERATIONS_MAX
  )
    return `iterations ${c.iterations} must be in ${SCRAM_ITERATIONS_MIN}..${SCRAM_ITERATIONS_MAX}`;
  if (c.salt.length < 16 || c.salt.length > 64) return "the salt must have 16..64 bytes";
  if (c.storedKey.length !== SHA512_BYTES || c.serverKey.length !== SHA512_BYTES)
    return `stored and server keys must have ${SHA512_BYTES} bytes (SHA-512)`;
  return null;
}

/** Sets or deletes one user's credential. Deleting a credential that does not exist: RESOURCE_NOT_FOUND. */
export function alterUserScramCredential(
  state: QuorumControllerState,
  req: AlterUserScramCredentialRequest,
): ControllerResult<ResponseBase> {
  const problem = credentialError(req);
  if (problem !== null)
    return { records: [], response: fail(ErrorCode.UNACCEPTABLE_CREDENTIAL, problem) };
  const { name, mechanism, credential } = req;
  if (credential === null) {
    if (state.image.users.get(name)?.has(mechanism) !== true) {
      const msg = `user ${name} has no ${mechanism} credential`;
      return { records: [], response: fail(ErrorCode.RESOURCE_NOT_FOUND, msg) };
    }
    return { records: [{ type: "removeUserScramCredential", name, mechanism }], response: OK };
  }
  return {
    records: [{ type: "userScramCredential", name, mechanism, ...credential }],
    response: OK,
  };
}
