// Goal: a listener with reflection lets a generic gRPC tool (grpcurl-style) list exactly the
// services that listener serves and fetch the file descriptor of a Strand service.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterEach, describe, expect, it } from "vitest";
import { addReflection } from "../src/services/reflection.ts";

const require = createRequire(import.meta.url);
const reflectionDir = join(
  dirname(require.resolve("@grpc/reflection/package.json")),
  "build/proto",
);

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

let server: grpc.Server | undefined;
let client: grpc.Client | undefined;
afterEach(() => {
  client?.close();
  server?.forceShutdown();
});

async function ask(port: number, request: Record<string, unknown>): Promise<ReflectionResponse> {
  const def = protoLoader.loadSync("grpc/reflection/v1/reflection.proto", {
    includeDirs: [reflectionDir],
    keepCase: false,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: typeof grpc.Client } } };
  };
  const Reflection = pkg.grpc.reflection.v1.ServerReflection;
  client = new Reflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = (
    client as unknown as {
      serverReflectionInfo(): grpc.ClientDuplexStream<unknown, ReflectionResponse>;
    }
  ).serverReflectionInfo();
  const answer = new Promise<ReflectionResponse>((resolve, reject) => {
    call.on("data", (d: ReflectionResponse) => resolve(d));
    call.on("error", reject);
  });
  call.write(request);
  call.end();
  return answer;
}

describe("server reflection", () => {
  it("lists the listener's services and describes them", async () => {
    server = new grpc.Server();
    addReflection(server, ["strand.v1.ProduceService", "strand.v1.FetchService"]);
    const port = await new Promise<number>((resolve, reject) =>
      server!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const listed = await ask(port, { listServices: "" });
    const names = listed.listServicesResponse?.service.map((s) => s.name).sort();
    expect(names).toEqual(["strand.v1.FetchService", "strand.v1.ProduceService"]);

    const described = await ask(port, { fileContainingSymbol: "strand.v1.ProduceService" });
    expect(described.fileDescriptorResponse?.fileDescriptorProto.length).toBeGreaterThan(0);
  });
});
