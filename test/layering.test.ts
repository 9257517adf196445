// Goal: imports point downward only (docs/design.md §1). A package may depend on, and import,
// only the Strand packages below it, and every @strand import is declared in package.json.
// Inside the broker, folders keep their roles: core/ imports nothing of the shell, the leader
// and follower wings of replica/ do not import each other, and only the gRPC edge (services/,
// node/, security/) sees generated protobuf types or gRPC. The folder checker also runs over a fixture tree
// that breaks each rule, so a checker that stopped biting would fail here.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const packagesDir = join(root, "packages");

/** Which Strand packages each package may import (docs/design.md §1). */
const allowed: Record<string, readonly string[]> = {
  base: [],
  protocol: ["base"],
  storage: ["protocol", "base"],
  raft: ["protocol", "base"],
  controller: ["raft", "protocol", "base"],
  broker: ["controller", "raft", "storage", "protocol", "base"],
  client: ["protocol", "base"],
  cli: ["client", "broker", "controller", "raft", "storage", "protocol", "base"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

function strandImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = text.matchAll(
    // A subpath (@strand/base/assert) counts as its package.
    /from\s+["']@strand\/([a-z-]+)(?:\/[^"']*)?["']|import\(["']@strand\/([a-z-]+)(?:\/[^"']*)?["']\)/g,
  );
  return [...found].map((m) => m[1] ?? m[2] ?? "");
}

/** A folder rule inside one package's src tree; folders are relative to that src root. */
interface FolderRule {
  /** Why the rule exists, for the failure message. */
  readonly name: string;
  /** Files under these folders are checked ("" is the whole tree). */
  readonly from: readonly string[];
  /** Folders under `from` that the rule skips. */
  readonly except?: readonly string[];
  /** Relative imports may not resolve into these folders. */
  readonly forbidFolders?: readonly string[];
  /** Relative imports must stay inside the checked file's own `from` folder. */
  readonly stayWithin?: boolean;
  /** Package imports starting with these are forbidden. */
  readonly forbidModules?: readonly string[];
  /**
   * Generated proto types and the wire module's gRPC loaders may not be imported from
   * "@strand/protocol" (they share the package root with the record codec, so the rule looks at
   * the imported names, not only the module).
   */
  readonly forbidWireNames?: boolean;
}

/** The broker's folder rules (docs/architecture.md, "Broker layout" in docs/decisions.md). */
const brokerRules: readonly FolderRule[] = [
  {
    name: "core/ is pure: it imports nothing of the broker's shell, gRPC or generated code",
    from: ["core"],
    stayWithin: true,
    forbidModules: ["@grpc/", "@strand/protocol/gen/"],
    forbidWireNames: true,
  },
  {
    name: "the leader wing does not import the follower wing",
    from: ["replica/leader"],
    forbidFolders: ["replica/follower"],
  },
  {
    name: "the follower wing does not import the leader wing",
    from: ["replica/follower"],
    forbidFolders: ["replica/leader"],
  },
  {
    name: "only the gRPC edge (services/, node/, security/) imports generated types or gRPC",
    from: [""],
    except: ["services", "node", "security"],
    forbidModules: ["@grpc/", "@strand/protocol/gen/"],
    forbidWireNames: true,
  },
  {
    name: "the domain (core/, replica/, producer/, groups/) does not import the edge",
    from: ["core", "replica", "producer", "groups"],
    forbidFolders: ["services", "node", "security"],
  },
];

/** Every name the generated proto files export, plus the wire module's gRPC loaders. */
const wireNames: ReadonlySet<string> = (() => {
  const genDir = join(packagesDir, "protocol", "src", "gen", "strand", "v1");
  const names = new Set([
    "strandGrpc",
    "strandPackageDefinition",
    "clientChannelOptions",
    "clientServerOptions",
    "internalChannelOptions",
    "internalServerOptions",
  ]);
  for (const file of readdirSync(genDir)) {
    const text = readFileSync(join(genDir, file), "utf8");
    for (const m of text.matchAll(/export\s+(?:declare\s+)?(?:interface|type|const|enum)\s+(\w+)/g))
      names.add(m[1] ?? "");
  }
  return names;
})();

/** Names imported from "@strand/protocol" in `text` that belong to the wire contract. */
function wireImports(text: string): string[] {
  const found = text.matchAll(
    /import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*["']@strand\/protocol["']/g,
  );
  return [...found]
    .flatMap((m) => (m[1] ?? "").split(","))
    .map(
      (n) =>
        n
          .replace(/\btype\s+/, "")
          .split(/\s+as\s+/)[0]
          ?.trim() ?? "",
    )
    .filter((n) => wireNames.has(n));
}

/** Is `path` (relative, "/"-separated) inside `folder` ("" contains everything)? */
function within(path: string, folder: string): boolean {
  return folder === "" || path === folder || path.startsWith(`${folder}/`);
}

function moduleSpecifiers(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g);
  return [...found].map((m) => m[1] ?? "");
}

/**
 * Every import under `srcRoot` that breaks one of `rules`, as "file imports spec (rule)".
 * Relative imports are resolved against the importing file; package imports are matched by prefix.
 */
function folderViolations(srcRoot: string, rules: readonly FolderRule[]): string[] {
  const toRel = (path: string) => relative(srcRoot, path).split(sep).join("/");
  const violations: string[] = [];
  for (const file of sourceFiles(srcRoot)) {
    const rel = toRel(file);
    for (const rule of rules) {
      const home = rule.from.find((f) => within(rel, f));
      if (home === undefined || rule.except?.some((f) => within(rel, f))) continue;
      for (const spec of moduleSpecifiers(file)) {
        const broken = spec.startsWith(".")
          ? breaksFolders(toRel(resolve(dirname(file), spec)), home, rule)
          : (rule.forbidModules ?? []).some((m) => spec.startsWith(m));
        if (broken) violations.push(`${rel} imports ${spec} (${rule.name})`);
      }
      if (rule.forbidWireNames !== true) continue;
      for (const name of wireImports(readFileSync(file, "utf8")))
        violations.push(`${rel} imports ${name} from @strand/protocol (${rule.name})`);
    }
  }
  return violations;
}

function breaksFolders(target: string, home: string, rule: FolderRule): boolean {
  if (rule.stayWithin === true && !within(target, home)) return true;
  return (rule.forbidFolders ?? []).some((f) => within(target, f));
}

const packages = readdirSync(packagesDir).filter((name) =>
  statSync(join(packagesDir, name, "package.json"), { throwIfNoEntry: false })?.isFile(),
);

describe("package layering", () => {
  it("knows every package", () => {
    for (const name of packages) expect(Object.keys(allowed)).toContain(name);
  });

  it("base imports no Strand package and every other package may import it", () => {
    expect(allowed.base).toEqual([]);
    for (const name of packages) if (name !== "base") expect(allowed[name]).toContain("base");
  });

  for (const name of packages) {
    it(`${name} depends only on packages below it`, () => {
      const manifest = JSON.parse(readFileSync(join(packagesDir, name, "package.json"), "utf8"));
      const declared = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })
        .filter((dep) => dep.startsWith("@strand/"))
        .map((dep) => dep.slice("@strand/".length));
      for (const dep of declared) expect(allowed[name]).toContain(dep);

      const srcDir = join(packagesDir, name, "src");
      for (const file of sourceFiles(srcDir)) {
        for (const imported of strandImports(file)) {
          expect(declared, `${file} imports @strand/${imported}`).toContain(imported);
        }
      }
    });
  }
});

describe("broker folder layering", () => {
  const brokerSrc = join(packagesDir, "broker", "src");

  it("the broker's folders keep their roles", () => {
    expect(sourceFiles(join(brokerSrc, "core")).length).toBeGreaterThanOrEqual(5);
    expect(folderViolations(brokerSrc, brokerRules)).toEqual([]);
  });

  it("the checker reports each broken rule in a fixture tree", () => {
    const fixture = join(root, "test", "fixtures", "layering", "src");
    expect(folderViolations(fixture, brokerRules).sort()).toEqual([
      `core/state.ts imports ../replica/partition.ts (${brokerRules[0]!.name})`,
      `replica/leader/append.ts imports ../follower/fetch.ts (${brokerRules[1]!.name})`,
      `replica/wire.ts imports ReplicaFetchRequest from @strand/protocol (${brokerRules[3]!.name})`,
    ]);
  });
});
