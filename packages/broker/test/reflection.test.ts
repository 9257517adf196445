// Goal: a listener with reflection lets a generic gRPC tool (grpcurl-style) list exactly the
// services that listener serves (and the health service every listener has) and fetch the
// file descriptors of a Strand service and of the health service.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { addReflection } from "../src/services/reflection.ts";
import { ask, listServices } from "./reflection-client.ts";

let server: grpc.Server | undefined;
afterEach(() => {
  server?.forceShutdown();
});

describe("server reflection", () => {
  it("lists the listener's services and describes them", async () => {
    server = new grpc.Server();
    addReflection(server, ["strand.v1.ProduceService", "strand.v1.FetchService"]);
    const port = await new Promise<number>((resolve, reject) =>
      server!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    expect(await listServices(port)).toEqual([
      "grpc.health.v1.Health",
      "strand.v1.FetchService",
      "strand.v1.ProduceService",
    ]);

    const described = await ask(port, { fileContainingSymbol: "strand.v1.ProduceService" });
    expect(described.fileDescriptorResponse?.fileDescriptorProto.length).toBeGreaterThan(0);

    const health = await ask(port, { fileContainingSymbol: "grpc.health.v1.Health" });
    expect(health.fileDescriptorResponse?.fileDescriptorProto.length).toBeGreaterThan(0);
  });
});
