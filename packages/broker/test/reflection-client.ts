// A minimal grpc.reflection.v1 client for tests (what grpcurl does to list and describe).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const require = createRequire(import.meta.url);
const reflectionDir = join(
  dirname(require.resolve("@grpc/reflection/package.json")),
  "build/proto",
);

export interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/** Sends one reflection request to 127.0.0.1:`port` and returns the first answer. */
export async function ask(
  port: number,
  request: Record<string, unknown>,
): Promise<ReflectionResponse> {
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
  const client = new Reflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = (
    client as unknown as {
      serverReflectionInfo(): grpc.ClientDuplexStream<unknown, ReflectionResponse>;
    }
  ).serverReflectionInfo();
  try {
    return await new Promise<ReflectionResponse>((resolve, reject) => {
      call.on("data", (d: ReflectionResponse) => resolve(d));
      call.on("error", reject);
      call.write(request);
      call.end();
    });
  } finally {
    client.close();
  }
}

/** The service names reflection lists on 127.0.0.1:`port`, sorted. */
export async function listServices(port: number): Promise<string[]> {
  const listed = await ask(port, { listServices: "" });
  return (listed.listServicesResponse?.service ?? []).map((s) => s.name).sort();
}
