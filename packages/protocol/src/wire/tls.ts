/**
 * Channel credentials of a client (SDK, CLI, tools) from in-memory PEM: TLS when any TLS
 * option is given, plaintext otherwise (TLS is off by default, docs/security.md).
 */
import * as grpc from "@grpc/grpc-js";

/** TLS options of a client connection; PEM text or bytes. */
export interface TlsClientOptions {
  /** CA certificate(s) the server's certificate must chain to; default the system's roots. */
  readonly ca?: string | Buffer;
  /** Client certificate (chain), for listeners that ask for one (mTLS); needs `key`. */
  readonly cert?: string | Buffer;
  /** Private key of `cert`. */
  readonly key?: string | Buffer;
}

function bytes(pem: string | Buffer | undefined): Buffer | null {
  if (pem === undefined) return null;
  return typeof pem === "string" ? Buffer.from(pem) : pem;
}

/**
 * Credentials for a channel: TLS with `tls` (true: TLS with the system's roots and no client
 * certificate), plaintext without.
 */
export function channelCredentials(tls?: TlsClientOptions | boolean): grpc.ChannelCredentials {
  if (tls === undefined || tls === false) return grpc.credentials.createInsecure();
  if (tls === true) return grpc.credentials.createSsl();
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new RangeError("TLS options: cert and key must be given together");
  return grpc.credentials.createSsl(bytes(tls.ca), bytes(tls.key), bytes(tls.cert));
}
