/**
 * The one supported Node.js range of Strand, checked where a process or an application first
 * loads Strand (the `strand` bin, the SDK entry), so an old runtime gets one clear line instead
 * of a missing `zlib.zstdCompressSync` (Node 22.15) or an unparsed `.ts` module (type
 * stripping without a flag: Node 22.18) deep inside. Every package.json's `engines.node`, the
 * README and docs/operations.md state the same range (test/node-version.test.ts checks it).
 */

/** The lowest supported Node.js version: `engines.node` is `>=` this everywhere. */
export const NODE_VERSION_MIN = "22.18.0";

function parts(version: string): [number, number, number] {
  const [a, b, c] = version.replace(/^v/, "").split(/[.-]/);
  return [Number(a) || 0, Number(b) || 0, Number(c) || 0];
}

/** The message for an unsupported `found` version (default: this process's), or null. */
export function nodeVersionProblem(found: string = process.versions.node): string | null {
  const [have, min] = [parts(found), parts(NODE_VERSION_MIN)];
  for (let k = 0; k < 3; k++) {
    if (have[k]! > min[k]!) return null;
    if (have[k]! < min[k]!)
      return `Strand needs Node.js >= ${NODE_VERSION_MIN} (found ${found.replace(/^v/, "")})`;
  }
  return null;
}

/** Throws an Error with {@link nodeVersionProblem}'s message on an unsupported runtime. */
export function assertNodeVersion(found?: string): void {
  const problem = nodeVersionProblem(found);
  if (problem !== null) throw new Error(problem);
}
