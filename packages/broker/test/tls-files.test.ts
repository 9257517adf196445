// Goal: a listener's TLS files are re-read and a renewal applies to listeners without a
// restart; a renewal caught half-written (key and certificate do not match) or an expired
// certificate is not taken, the last good set stays; unusable files at start-up are refused
// with the path in the message. Certificates are made with openssl in a temp dir.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noopLogger } from "@strand/base";
import { afterAll, describe, expect, it } from "vitest";
import { TlsFiles, TlsFilesError } from "../src/node/tls-files.ts";

const dir = mkdtempSync(join(tmpdir(), "strand-tls-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed EC certificate and key named `name` in `dir`, valid for `days`. */
function selfSigned(name: string, days = 30): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", String(days), "-subj", `/CN=${name}`],
    ],
    { stdio: "ignore" },
  );
  return { cert, key };
}

describe("TlsFiles", () => {
  it("takes a renewed certificate and key, and tells its listeners", () => {
    const first = selfSigned("first");
    const second = selfSigned("second");
    const live = { certFile: join(dir, "live.crt"), keyFile: join(dir, "live.key"), caFile: "" };
    copyFileSync(first.cert, live.certFile);
    copyFileSync(first.key, live.keyFile);
    const files = new TlsFiles(live, noopLogger);
    const seen: string[] = [];
    files.onChange((m) => seen.push(m.cert.toString()));
    files.reload();
    expect(seen).toEqual([]); // unchanged files: no update
    // Half-written renewal: new key, old certificate. Refused; the old pair stays in use.
    copyFileSync(second.key, live.keyFile);
    files.reload();
    expect(seen).toEqual([]);
    expect(files.material.key.equals(readFileSync(first.key))).toBe(true);
    copyFileSync(second.cert, live.certFile);
    files.reload();
    expect(seen).toEqual([readFileSync(second.cert).toString()]);
    expect(files.material.key.equals(readFileSync(second.key))).toBe(true);
  });

  it("refuses unusable files at start-up, naming them", () => {
    const good = selfSigned("good");
    const missing = { certFile: join(dir, "nope.crt"), keyFile: good.key, caFile: "" };
    expect(() => new TlsFiles(missing, noopLogger)).toThrow(TlsFilesError);
    expect(() => new TlsFiles(missing, noopLogger)).toThrow(/nope\.crt/);
    const garbage = join(dir, "garbage.crt");
    writeFileSync(garbage, "not a certificate");
    expect(() => new TlsFiles({ ...missing, certFile: garbage }, noopLogger)).toThrow(
      /garbage\.crt/,
    );
    const other = selfSigned("other");
    expect(
      () => new TlsFiles({ certFile: good.cert, keyFile: other.key, caFile: "" }, noopLogger),
    ).toThrow(TlsFilesError);
  });
});
