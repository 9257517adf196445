/**
 * Raw gRPC helpers for authentication tests: a SCRAM-SHA-512 login on one broker's
 * AuthService (the server signature checked), a ListOffsets sent to that broker with the
 * session, so a test can address a broker that does not lead the partition (a forward), and
 * a FetchStream opened with the session.
 */
import * as grpc from "@grpc/grpc-js";
import {
  type AuthServiceScramFinishResponse__Output,
  type AuthServiceScramStartResponse__Output,
  clientChannelOptions,
  type ListOffsetsRequest,
  type ListOffsetsResponse__Output,
  ScramClient,
  strandGrpc,
} from "@strand/protocol";

/** A unary call as a promise. */
export function rpc<R>(
  start: (cb: (e: grpc.ServiceError | null, r?: R) => void) => unknown,
): Promise<R> {
  return new Promise((resolve, reject) =>
    start((e, r) => (e === null && r !== undefined ? resolve(r) : reject(e))),
  );
}

/** Stubs to one broker over TLS (no client certificate); `close()` when done. */
export function rawBroker(address: string, ca: Buffer) {
  const v1 = strandGrpc().strand.v1;
  const creds = grpc.credentials.createSsl(ca);
  const opts = clientChannelOptions();
  const auth = new v1.AuthService(address, creds, opts);
  const fetch = new v1.FetchService(address, creds, opts);
  return {
    /** Logs in and returns the session token. */
    async login(user: string, password: string): Promise<string> {
      const scram = new ScramClient(user, "sha512");
      const start = await rpc<AuthServiceScramStartResponse__Output>((cb) =>
        auth.ScramStart({ mechanism: "SCRAM-SHA-512", clientFirst: scram.first() }, cb),
      );
      const clientFinal = scram.final(start.serverFirst, password);
      const finish = await rpc<AuthServiceScramFinishResponse__Output>((cb) =>
        auth.ScramFinish({ exchangeId: start.exchangeId, clientFinal }, cb),
      );
      scram.verifyServer(finish.serverFinal);
      return finish.sessionToken;
    },
    /** ListOffsets (latest) of one partition, with `session` (or without: null). */
    listOffsets(
      topic: string,
      partition: number,
      session: string | null,
    ): Promise<ListOffsetsResponse__Output> {
      const md = new grpc.Metadata();
      if (session !== null) md.set("strand-session", session);
      const request: ListOffsetsRequest = {
        topics: [{ topic, partitions: [{ partition, spec: "OFFSET_SPEC_LATEST" }] }],
      };
      return rpc((cb) => fetch.ListOffsets(request, md, cb));
    },
    /** Opens a FetchStream that presents `session` (every request rides its first metadata). */
    fetchStream(session: string) {
      const md = new grpc.Metadata();
      md.set("strand-session", session);
      return fetch.FetchStream(md);
    },
    close(): void {
      auth.close();
      fetch.close();
    },
  };
}
