// Goal: an error built from a broker's answer names its code once, even when the broker's
// message already starts with the code's name (brokers relay controller answers that way).
import { ErrorCode } from "@strand/protocol";
import { describe, expect, it } from "vitest";
import { errorForCode } from "../src/errors.ts";

describe("errorForCode", () => {
  it("prints the code once when the broker message repeats it", () => {
    const code = ErrorCode.INVALID_CONFIG.code;
    const e = errorForCode(code, "INVALID_CONFIG: retention.ms must be a number", {
      topic: "badcfg",
    });
    expect(e.message).toBe("INVALID_CONFIG (badcfg): retention.ms must be a number");
    expect(e.code.name).toBe("INVALID_CONFIG");
  });

  it("keeps a message that does not start with the code, and falls back to the action", () => {
    const code = ErrorCode.INVALID_CONFIG.code;
    expect(errorForCode(code, "bad value").message).toBe("INVALID_CONFIG: bad value");
    expect(errorForCode(code, "").message).toBe(
      `INVALID_CONFIG: ${ErrorCode.INVALID_CONFIG.action}`,
    );
  });
});

describe("consumer-group error codes", () => {
  it("map to typed errors with the table's retriable flag", async () => {
    const m = await import("../src/errors.ts");
    const cases: [number, unknown, boolean][] = [
      [16, m.CoordinatorNotAvailableError, true],
      [14, m.CoordinatorNotAvailableError, true],
      [15, m.CoordinatorNotAvailableError, true],
      [110, m.FencedMemberError, false],
      [25, m.FencedMemberError, false],
      [113, m.StaleMemberEpochError, true],
      [82, m.FencedInstanceIdError, false],
      [111, m.FencedInstanceIdError, true],
      [68, m.GroupNotEmptyError, false],
      [69, m.GroupNotFoundError, false],
      [24, m.InvalidGroupError, false],
      [112, m.InvalidGroupError, false],
    ];
    for (const [code, type, retriable] of cases) {
      const e = errorForCode(code, "");
      expect(e).toBeInstanceOf(type as typeof m.StrandClientError);
      expect([e.code.code, e.retriable]).toEqual([code, retriable]);
    }
  });
});
