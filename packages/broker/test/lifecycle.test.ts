import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import type { ControllerRouter } from "../src/node/controllers.ts";
import { BrokerLifecycle } from "../src/node/lifecycle.ts";

type Level = "debug" | "info" | "warn" | "error";

function recordingLogger(lines: { level: Level; msg: string }[]) {
  const at = (level: Level) => (_obj: object, msg?: string) => {
    lines.push({ level, msg: msg ?? "" });
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

async function refusedWith(code: { code: number; name: string }, at: "register" | "heartbeat") {
  const lines: { level: Level; msg: string }[] = [];
  let calls = 0;
  const refusal = { error: { code: code.code, name: code.name, message: "no" }, brokerEpoch: "-1" };
  const router = {
    registerBroker: async () => {
      if (at === "register") calls++;
      return at === "register" ? refusal : { error: null, brokerEpoch: "5" };
    },
    brokerHeartbeat: async () => {
      if (at === "heartbeat") calls++;
      return refusal;
    },
  } as unknown as ControllerRouter;
  const lifecycle = new BrokerLifecycle({
    brokerId: 1,
    client: { host: "127.0.0.1", port: 1 },
    internal: { host: "127.0.0.1", port: 2 },
    router,
    appliedOffset: () => -1,
    heartbeatIntervalMs: 10,
    logger: recordingLogger(lines),
  });
  lifecycle.start();
  await expect.poll(() => calls, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
  lifecycle.close();
  const msg = at === "register" ? "registration refused; retrying" : "heartbeat refused";
  return lines.filter((l) => l.msg === msg);
}

describe("BrokerLifecycle registration logging", () => {
  it("logs NOT_CONTROLLER (expected while the quorum forms) below warn", async () => {
    const lines = await refusedWith(ErrorCode.NOT_CONTROLLER, "register");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.level === "debug")).toBe(true);
  });

  it("keeps warn for a real refusal", async () => {
    const lines = await refusedWith(ErrorCode.UNKNOWN, "register");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.level === "warn")).toBe(true);
  });

  it("logs a heartbeat's NOT_CONTROLLER (the controller moved) below warn, other refusals at warn", async () => {
    const moved = await refusedWith(ErrorCode.NOT_CONTROLLER, "heartbeat");
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((l) => l.level === "debug")).toBe(true);
    const refused = await refusedWith(ErrorCode.UNKNOWN, "heartbeat");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((l) => l.level === "warn")).toBe(true);
  });
});
