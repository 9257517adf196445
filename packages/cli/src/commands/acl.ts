/**
 * `strand acl create | list | delete`: access control entries (docs/security.md
 * "Authorization") through the admin client. A resource is named by exactly one of --topic,
 * --group or --cluster; --prefixed makes the name a prefix. `list` and `delete` take the same
 * options as filters (absent = any); `delete` with no filter at all is refused, so a typo
 * cannot wipe every ACL.
 */
import {
  ACL_OPERATIONS,
  type Acl,
  type AclBinding,
  type AclFilter,
  type AclOperation,
  type AclResourceType,
} from "@strand/client";
import type { OptionSpec, OptionValues } from "../args.ts";
import { flag, str, UsageError } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { EXIT, println, table, toJson } from "../output.ts";

const OPERATIONS: readonly AclOperation[] = ACL_OPERATIONS;

/** `describe-configs` and `describe_configs` both name the operation. */
function operation(raw: string | undefined): AclOperation | undefined {
  if (raw === undefined) return undefined;
  const op = raw.toLowerCase().replace(/-/g, "_");
  if (!(OPERATIONS as readonly string[]).includes(op))
    throw new UsageError(`--operation must be one of ${OPERATIONS.join(", ")}, got "${raw}"`);
  return op as AclOperation;
}

/** The resource the options name: {type, name} or null when none is named. */
function resource(o: OptionValues): { type: AclResourceType; name: string } | null {
  const named = [
    ["topic", str(o, "topic")],
    ["group", str(o, "group")],
    ["cluster", flag(o, "cluster") ? "cluster" : undefined],
  ].filter(([, v]) => v !== undefined) as [AclResourceType, string][];
  if (named.length > 1) throw new UsageError("name one resource: --topic, --group or --cluster");
  const [first] = named;
  return first === undefined ? null : { type: first[0], name: first[1] };
}

/** The binding `acl create` asks for. */
export function bindingOf(o: OptionValues): AclBinding {
  const principal = str(o, "principal");
  if (principal === undefined) throw new UsageError("strand acl create needs --principal");
  const r = resource(o);
  if (r === null) throw new UsageError("strand acl create needs --topic, --group or --cluster");
  const op = operation(str(o, "operation"));
  if (op === undefined) throw new UsageError("strand acl create needs --operation");
  return {
    principal,
    host: str(o, "host") ?? "*",
    resourceType: r.type,
    patternType: flag(o, "prefixed") ? "prefixed" : "literal",
    resourceName: r.name,
    operation: op,
    permission: flag(o, "deny") ? "deny" : "allow",
  };
}

/** The filter `acl list` / `acl delete` use; absent options match anything. */
export function filterOf(o: OptionValues): AclFilter {
  const r = resource(o);
  const op = operation(str(o, "operation"));
  const principal = str(o, "principal");
  const host = str(o, "host");
  const permission = flag(o, "deny") ? "deny" : flag(o, "allow") ? "allow" : undefined;
  const pattern = flag(o, "prefixed") ? "prefixed" : flag(o, "literal") ? "literal" : undefined;
  return {
    ...(principal === undefined ? {} : { principal }),
    ...(host === undefined ? {} : { host }),
    ...(r === null ? {} : { resourceType: r.type }),
    ...(r === null || r.type === "cluster" ? {} : { resourceName: r.name }),
    ...(pattern === undefined ? {} : { patternType: pattern }),
    ...(op === undefined ? {} : { operation: op }),
    ...(permission === undefined ? {} : { permission }),
  };
}

function aclTable(acls: readonly Acl[]): string {
  return table(
    ["PRINCIPAL", "PERMISSION", "OPERATION", "RESOURCE", "PATTERN", "NAME", "HOST", "ID"],
    acls.map((a) => [
      a.principal,
      a.permission,
      a.operation,
      a.resourceType,
      a.patternType,
      a.resourceName,
      a.host,
      a.id,
    ]),
  );
}

async function createAcl(inv: Invocation): Promise<number> {
  const binding = bindingOf(inv.options);
  const [id] = await (await inv.client()).admin().createAcls([binding]);
  if (inv.format === "json") println(toJson({ id, ...binding }));
  else
    println(
      `created ${binding.permission} ${binding.operation} on ${binding.resourceType} ${binding.resourceName} (${binding.patternType}) for ${binding.principal}: id ${id}`,
    );
  return EXIT.ok;
}

async function listAcls(inv: Invocation): Promise<number> {
  const acls = await (await inv.client()).admin().describeAcls(filterOf(inv.options));
  println(inv.format === "json" ? toJson(acls) : aclTable(acls));
  return EXIT.ok;
}

async function deleteAcls(inv: Invocation): Promise<number> {
  const filter = filterOf(inv.options);
  if (Object.keys(filter).length === 0 && !flag(inv.options, "all"))
    throw new UsageError("strand acl delete needs a filter (or --all to delete every ACL)");
  const removed = await (await inv.client()).admin().deleteAcls([filter]);
  if (inv.format === "json") println(toJson(removed));
  else println(`${aclTable(removed)}\n\ndeleted ${removed.length} ACL(s)`);
  return EXIT.ok;
}

const RESOURCE_OPTIONS: readonly OptionSpec[] = [
  {
    name: "principal",
    type: "string",
    valueName: "TYPE:NAME",
    description: "User:alice, User:* (every user) or Node:<id>",
  },
  { name: "topic", type: "string", valueName: "NAME", description: 'a topic ("*" = every topic)' },
  {
    name: "group",
    type: "string",
    valueName: "NAME",
    description: 'a consumer group ("*" = every group)',
  },
  {
    name: "cluster",
    type: "boolean",
    description: "the cluster (topic creation, configs, ACLs, quorum)",
  },
  {
    name: "prefixed",
    type: "boolean",
    description: "the name is a prefix (orders. matches orders.eu)",
  },
  { name: "operation", type: "string", valueName: "OP", description: OPERATIONS.join(" | ") },
  {
    name: "host",
    type: "string",
    valueName: "IP",
    description: "only connections from this client address (default: any)",
  },
  {
    name: "deny",
    type: "boolean",
    description: "a deny (wins over every allow) instead of an allow",
  },
];

/** The acl commands. */
export const aclCommands: readonly Command[] = [
  {
    path: ["acl", "create"],
    brief: "allow or deny a principal an operation",
    summary:
      "Creates an ACL (with authorizer=acl; docs/security.md): --principal may do (or, with --deny, may not do) --operation on the --topic, --group or --cluster. Creating an existing ACL changes nothing. Needs ALTER on the cluster (a super user).",
    args: "",
    arity: [0, 0],
    options: RESOURCE_OPTIONS,
    examples: [
      "strand acl create --principal User:alice --topic orders --operation write",
      "strand acl create --principal User:alice --topic orders. --prefixed --operation read",
      "strand acl create --principal User:alice --group billing --operation read",
      "strand acl create --principal User:* --topic secrets --operation all --deny",
      "strand acl create --principal User:ops --cluster --operation alter_configs",
    ],
    run: createAcl,
  },
  {
    path: ["acl", "list"],
    brief: "list ACLs",
    summary:
      "Lists the ACLs matching the options (each absent option matches anything; --topic NAME shows the ACLs on that exact name). Needs DESCRIBE on the cluster.",
    args: "",
    arity: [0, 0],
    options: [
      ...RESOURCE_OPTIONS.filter((o) => o.name !== "deny"),
      { name: "allow", type: "boolean", description: "only allows" },
      { name: "deny", type: "boolean", description: "only denies" },
      { name: "literal", type: "boolean", description: "only literal patterns" },
    ],
    examples: [
      "strand acl list",
      "strand acl list --principal User:alice",
      "strand acl list --topic orders -f json",
    ],
    run: listAcls,
  },
  {
    path: ["acl", "delete"],
    brief: "delete ACLs",
    summary:
      "Deletes every ACL matching the options (same filters as acl list) and prints what it removed. Needs ALTER on the cluster.",
    args: "",
    arity: [0, 0],
    options: [
      ...RESOURCE_OPTIONS.filter((o) => o.name !== "deny"),
      { name: "allow", type: "boolean", description: "only allows" },
      { name: "deny", type: "boolean", description: "only denies" },
      { name: "literal", type: "boolean", description: "only literal patterns" },
      {
        name: "all",
        type: "boolean",
        description: "delete every ACL (needed when no filter is given)",
      },
    ],
    examples: [
      "strand acl delete --principal User:alice --topic orders --operation write",
      "strand acl delete --principal User:bob",
    ],
    run: deleteAcls,
  },
];
