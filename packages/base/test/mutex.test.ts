// Goal: the mutex runs sections one at a time in call order, and a failing section rejects
// only its own caller: the queue goes on (a wedged queue would hang every later append).
import { describe, expect, it } from "vitest";
import { Mutex } from "../src/mutex.ts";

describe("Mutex", () => {
  it("runs sections alone, in call order", async () => {
    const m = new Mutex();
    const events: string[] = [];
    const section = (name: string, ms: number) =>
      m.run(async () => {
        events.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`${name}-`);
        return name;
      });
    const results = await Promise.all([section("a", 20), section("b", 1), section("c", 5)]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(events).toEqual(["a+", "a-", "b+", "b-", "c+", "c-"]);
  });

  it("a rejected or throwing section fails its caller only; the next one runs", async () => {
    const m = new Mutex();
    const failed = m.run(async () => {
      throw new Error("boom");
    });
    const thrownSync = m.run(() => {
      throw new Error("sync boom");
    });
    const next = m.run(async () => "after");
    await expect(failed).rejects.toThrow("boom");
    await expect(thrownSync).rejects.toThrow("sync boom");
    await expect(next).resolves.toBe("after");
  });
});
