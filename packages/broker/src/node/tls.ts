/**
 * The node's TLS (docs/security.md): for each listener whose certificate file is set, the
 * reloading {@link TlsFiles} and the gRPC server credentials over them; and the credentials
 * of the node's own channels, which present the node certificate (the internal listener's)
 * and verify peers against the cluster CA. Every listener without files stays plaintext, so
 * a development cluster needs no certificates.
 */
import * as grpc from "@grpc/grpc-js";
import type { ChildLogger } from "@strand/base";
import type { ClientAuth, NodeConfig } from "../config/index.ts";
import { TlsFiles } from "./tls-files.ts";

const { createCertificateProviderChannelCredentials, createCertificateProviderServerCredentials } =
  grpc.experimental;

/** One TLS listener: its files and whether it asks for client certificates. */
export interface ListenerTls {
  readonly files: TlsFiles;
  readonly clientAuth: ClientAuth;
}

/** See the module comment. */
export class NodeTls {
  readonly client: ListenerTls | null;
  readonly internal: ListenerTls | null;
  readonly admin: ListenerTls | null;

  /** Reads every configured file now (a bad file stops the start) and re-reads them later. */
  constructor(c: NodeConfig, logger: ChildLogger) {
    const open = (name: string, certFile: string, keyFile: string, caFile: string) => {
      if (certFile === "") return null;
      const files = new TlsFiles({ certFile, keyFile, caFile }, logger.child({ listener: name }));
      files.watch(c.tlsReloadIntervalMs);
      return files;
    };
    const client = open(
      "client",
      c.listenersClientTlsCertFile,
      c.listenersClientTlsKeyFile,
      c.listenersClientTlsCaFile,
    );
    const internal = open(
      "internal",
      c.listenersInternalTlsCertFile,
      c.listenersInternalTlsKeyFile,
      c.listenersInternalTlsCaFile,
    );
    const admin = open(
      "admin",
      c.listenersAdminTlsCertFile,
      c.listenersAdminTlsKeyFile,
      c.listenersAdminTlsCaFile,
    );
    this.client = client && { files: client, clientAuth: c.listenersClientTlsClientAuth };
    this.internal = internal && { files: internal, clientAuth: "required" };
    this.admin = admin && { files: admin, clientAuth: c.listenersAdminTlsClientAuth };
  }

  /**
   * Server credentials of the client listener. With `client.auth=none` and internal TLS on, it
   * still asks for (never requires) a certificate verified by the cluster CA: brokers forward
   * client requests here with their node certificate, and a forwarded principal is honoured
   * only from a verified node (docs/security.md). Client certificates then name no user.
   */
  clientServer(): grpc.ServerCredentials {
    const client = this.client;
    const internal = this.internal;
    if (client === null || client.clientAuth !== "none" || internal === null)
      return serverCredentials(client);
    return createCertificateProviderServerCredentials(client.files, internal.files, false);
  }

  /** Server credentials of the internal listener: mTLS with TLS on. */
  internalServer(): grpc.ServerCredentials {
    return serverCredentials(this.internal);
  }

  /**
   * Credentials of the node's channels to other nodes' internal listeners (Raft, controller
   * RPCs, metadata stream, replica fetches): the node certificate, peers verified against the
   * cluster CA. Plaintext when internal TLS is off.
   */
  internalChannel(): grpc.ChannelCredentials {
    const t = this.internal;
    if (t === null) return grpc.credentials.createInsecure();
    return createCertificateProviderChannelCredentials(t.files, t.files);
  }

  /**
   * Credentials of forwarding to other brokers' client listeners: TLS when the client
   * listener has it, verified against its CA file, else the cluster CA, else the system's
   * roots; presenting the node certificate when internal TLS is on.
   */
  forwardChannel(): grpc.ChannelCredentials {
    const client = this.client;
    if (client === null) return grpc.credentials.createInsecure();
    const internal = this.internal?.files ?? null;
    const ca = client.files.material.ca !== null ? client.files : internal;
    if (ca === null) return grpc.credentials.createSsl();
    return createCertificateProviderChannelCredentials(ca, internal);
  }

  /** Stops re-reading the files. */
  close(): void {
    for (const t of [this.client, this.internal, this.admin]) t?.files.close();
  }
}

function serverCredentials(t: ListenerTls | null): grpc.ServerCredentials {
  if (t === null) return grpc.ServerCredentials.createInsecure();
  // grpc-js uses its first argument as the identity provider and its second as the CA one
  // (whatever the declared names say); one TlsFiles is both, so the order cannot go wrong.
  return createCertificateProviderServerCredentials(
    t.files,
    t.clientAuth === "none" ? null : t.files,
    t.clientAuth === "required",
  );
}
