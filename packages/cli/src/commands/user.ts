/**
 * `strand user create | delete | list`: SCRAM-SHA-512 users in the metadata log
 * (docs/security.md). The new user's password is salted and hashed in this process (the SDK's
 * createUser); only the salted hash reaches the cluster, and it is never printed. The password
 * comes from --new-password or STRAND_NEW_PASSWORD (--password is the caller's own login).
 */
import { int, type OptionSpec, str, UsageError } from "../args.ts";
import type { Command, Invocation } from "../command.ts";
import { EXIT, println, table, toJson } from "../output.ts";

const CREATE_OPTIONS: readonly OptionSpec[] = [
  {
    name: "new-password",
    type: "string",
    valueName: "PASSWORD",
    description: "the user's password (env STRAND_NEW_PASSWORD, which stays out of `ps`)",
  },
  {
    name: "iterations",
    type: "string",
    valueName: "N",
    description: "PBKDF2 rounds, 4096..1000000 (default 8192): more is slower to guess",
  },
];

async function create(inv: Invocation): Promise<number> {
  const [name = ""] = inv.args;
  const password = str(inv.options, "new-password") ?? process.env.STRAND_NEW_PASSWORD;
  if (password === undefined || password === "")
    throw new UsageError("strand user create needs --new-password or STRAND_NEW_PASSWORD");
  const iterations = int(inv.options, "iterations", { min: 4096, fallback: 8192 })!;
  const admin = (await inv.client()).admin();
  await admin.createUser(name, password, {
    iterations,
    signal: inv.signal,
    timeoutMs: inv.timeoutMs,
  });
  println(inv.format === "json" ? toJson({ user: name, created: true }) : `user ${name} set`);
  return EXIT.ok;
}

async function remove(inv: Invocation): Promise<number> {
  const [name = ""] = inv.args;
  const admin = (await inv.client()).admin();
  await admin.deleteUser(name, { signal: inv.signal, timeoutMs: inv.timeoutMs });
  println(inv.format === "json" ? toJson({ user: name, deleted: true }) : `user ${name} deleted`);
  return EXIT.ok;
}

async function list(inv: Invocation): Promise<number> {
  const admin = (await inv.client()).admin();
  const users = await admin.listUsers({ signal: inv.signal, timeoutMs: inv.timeoutMs });
  if (inv.format === "json") {
    println(toJson(users));
    return EXIT.ok;
  }
  println(
    table(
      ["USER", "MECHANISM", "ITERATIONS"],
      users.flatMap((u) => u.credentials.map((c) => [u.name, c.mechanism, String(c.iterations)])),
    ),
  );
  return EXIT.ok;
}

/** The `strand user` commands. */
export const userCommands: readonly Command[] = [
  {
    path: ["user", "create"],
    brief: "create or change a SCRAM-SHA-512 user",
    summary:
      "Creates the user, or sets a new password for an existing one. The password is salted and hashed here; the cluster stores only what verifies a login (docs/security.md).",
    args: "NAME",
    arity: [1, 1],
    options: CREATE_OPTIONS,
    examples: [
      "STRAND_NEW_PASSWORD=s3cret strand user create alice",
      "strand user create bob --new-password s3cret --iterations 16384",
    ],
    run: create,
  },
  {
    path: ["user", "delete"],
    brief: "delete a SCRAM user",
    summary: "Deletes the user's SCRAM credential; its open sessions are refused from then on.",
    args: "NAME",
    arity: [1, 1],
    options: [],
    examples: ["strand user delete alice"],
    run: remove,
  },
  {
    path: ["user", "list"],
    brief: "list SCRAM users",
    summary: "Lists users with their mechanism and iteration count (never keys or passwords).",
    args: "",
    arity: [0, 0],
    options: [],
    examples: ["strand user list", "strand user list --format json"],
    run: list,
  },
];
