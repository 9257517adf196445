/**
 * ACL check benchmark (issue 15): how long one authorization decision takes with many ACLs,
 * through the index (packages/broker/src/core/acl-index.ts) and, for scale, through a plain
 * scan of every ACL. 10,000 ACLs by default: 1,000 users with literal topic ACLs, prefixed
 * ACLs, group ACLs, some denies and `User:*` entries. Pure CPU, no cluster.
 *
 * A script, never a test.
 *   npm run bench -- acl [--acls 10000] [--checks 1000000] [--json] [--help]
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { type AclBinding, type AclEntry, aclId } from "@strand/controller";
import { type AccessRequest, AclIndex } from "../packages/broker/src/core/acl-index.ts";

const { values } = parseArgs({
  options: {
    acls: { type: "string", default: "10000" },
    checks: { type: "string", default: "1000000" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("usage: npm run bench -- acl [--acls 10000] [--checks 1000000] [--json]");
  process.exit(0);
}
const aclCount = Number(values.acls);
const checks = Number(values.checks);

function entry(b: AclBinding): AclEntry {
  return { id: aclId(b), ...b };
}

/** A deterministic mix: mostly literal topic allows, a tenth prefixed, some groups and denies. */
function makeAcls(n: number): AclEntry[] {
  const out: AclEntry[] = [];
  for (let i = 0; out.length < n; i++) {
    const user = `User:u${i % 1000}`;
    const kind = i % 10;
    out.push(
      entry({
        principal: kind === 9 ? "User:*" : user,
        host: "*",
        resourceType: kind === 8 ? "group" : "topic",
        patternType: kind === 7 ? "prefixed" : "literal",
        resourceName: kind === 7 ? `team${i % 50}.` : `topic-${i}`,
        operation: (["read", "write", "describe"] as const)[i % 3] ?? "read",
        permission: i % 17 === 0 ? "deny" : "allow",
      }),
    );
  }
  return out;
}

function scan(acls: readonly AclEntry[], r: AccessRequest): boolean {
  let allowed = false;
  for (const a of acls) {
    if (a.principal !== r.principal && a.principal !== "User:*") continue;
    if (a.resourceType !== r.resourceType) continue;
    const hit =
      a.patternType === "prefixed"
        ? r.resourceName.startsWith(a.resourceName)
        : a.resourceName === "*" || a.resourceName === r.resourceName;
    if (!hit) continue;
    if (a.operation !== r.operation && a.operation !== "all") continue;
    if (a.permission === "deny") return false;
    allowed = true;
  }
  return allowed;
}

const acls = makeAcls(aclCount);
const buildStart = performance.now();
const index = new AclIndex(acls);
const buildMs = performance.now() - buildStart;
const requests: AccessRequest[] = Array.from({ length: 1024 }, (_, i) => ({
  principal: `User:u${(i * 7) % 1000}`,
  host: "10.0.0.1",
  operation: "write",
  resourceType: "topic",
  resourceName: i % 2 === 0 ? `topic-${i * 3}` : `team${i % 50}.orders-${i}`,
}));

function measure(
  n: number,
  check: (r: AccessRequest) => boolean,
): { nsPerCheck: number; allowed: number } {
  let allowed = 0;
  for (let i = 0; i < Math.min(n, 10_000); i++) if (check(requests[i & 1023]!)) allowed++;
  allowed = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (check(requests[i & 1023]!)) allowed++;
  const ns = Number(process.hrtime.bigint() - start);
  return { nsPerCheck: ns / n, allowed };
}

const indexed = measure(checks, (r) => index.check(r));
const scanned = measure(Math.max(1000, Math.floor(checks / 1000)), (r) => scan(acls, r));
const result = {
  acls: aclCount,
  checks,
  indexBuildMs: Number(buildMs.toFixed(1)),
  indexedNsPerCheck: Number(indexed.nsPerCheck.toFixed(0)),
  scanNsPerCheck: Number(scanned.nsPerCheck.toFixed(0)),
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(`ACLs ${aclCount}: index built in ${result.indexBuildMs} ms`);
  console.log(`indexed check: ${result.indexedNsPerCheck} ns (${checks} checks)`);
  console.log(`full scan:     ${result.scanNsPerCheck} ns (for comparison)`);
  console.log(`${result.node} on ${result.cpu}`);
}
