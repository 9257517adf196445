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
