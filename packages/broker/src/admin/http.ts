/**
 * The admin HTTP listener: `/metrics` (Prometheus text format), `/healthz` (the process is up
 * and its event loop answers) and `/readyz` (the node can serve: it reports the reason when not).
 * HTTPS when given TLS files; a renewed certificate applies to new connections (no restart).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** Answers whether the node is ready, with the reason when it is not. */
export type ReadinessCheck = () => { readonly ready: boolean; readonly reason: string };

/** Options of {@link startAdminServer}. */
export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: ReadinessCheck;
  /** HTTPS material and client-certificate policy; null or absent: plain HTTP. */
  readonly tls?: AdminTls | null;
}

/** One consistent set of PEM material. */
export interface AdminTlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
}

/** The admin listener's TLS: current material, its changes, and client certificates. */
export interface AdminTls {
  readonly files: {
    readonly material: AdminTlsMaterial;
    onChange(listener: (m: AdminTlsMaterial) => void): () => void;
  };
  /** none: not asked for; requested: verified when sent; required: mTLS. */
  readonly clientAuth: "none" | "requested" | "required";
}

/** A running admin listener. */
export interface AdminServer {
  /** The bound port (useful when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the admin HTTP listener; resolves once it is listening. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res, options).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`internal error: ${(error as Error).message}\n`);
    });
  };
  const tls = options.tls ?? null;
  const server: Server = tls === null ? createServer(handler) : httpsServer(tls, handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => closeServer(server),
  };
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  options: AdminServerOptions,
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  if (path === "/metrics") {
    const body = await options.registry.metrics();
    res.writeHead(200, { "content-type": options.registry.contentType }).end(body);
  } else if (path === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
  } else if (path === "/readyz") {
    const { ready, reason } = options.readiness();
    res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(`${reason}\n`);
  } else {
    res.writeHead(404, { "content-type": "text/plain" }).end("try /metrics, /healthz or /readyz\n");
  }
}

function contextOf(m: AdminTlsMaterial) {
  return { cert: m.cert, key: m.key, ...(m.ca === null ? {} : { ca: m.ca }) };
}

function httpsServer(
  tls: AdminTls,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const server = createHttpsServer(
    {
      ...contextOf(tls.files.material),
      requestCert: tls.clientAuth !== "none",
      rejectUnauthorized: tls.clientAuth === "required",
    },
    handler,
  );
  const stop = tls.files.onChange((m) => server.setSecureContext(contextOf(m)));
  server.on("close", stop);
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
