// Goal: when the failure funnel takes a log offline (here: its active segment made immutable,
// so the next write fails EPERM), the LogManager reports the dir offline once, with the
// partition and the cause, so the broker can stop leading from it. Needs root and chattr.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogManager } from "../src/log-manager.ts";
import { buildBatch, tempDir } from "./helpers.ts";

let dir: string;
let remove: () => Promise<void>;
const immutable: string[] = [];

function chattr(flag: "+i" | "-i", file: string): boolean {
  try {
    execFileSync("chattr", [flag, file], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  for (const f of immutable.splice(0)) chattr("-i", f);
  await remove();
});

const leader = { assignOffsets: true, leaderEpoch: 0 } as const;

describe("offline log dir", () => {
  it("reports the first log failure once, with the partition and the cause", async (t) => {
    const manager = await LogManager.open(dir);
    try {
      const log = await manager.getOrCreateLog("t", 0);
      await log.append(buildBatch(), leader);
      const reasons: string[] = [];
      manager.onOffline((r) => reasons.push(r));
      expect(manager.offlineReason).toBeNull();
      const segment = path.join(dir, "t-0", "00000000000000000000.log");
      if (!chattr("+i", segment)) t.skip();
      immutable.push(segment);
      await expect(log.append(buildBatch(), leader)).rejects.toThrow();
      await expect(log.append(buildBatch(), leader)).rejects.toThrow(/offline/);
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toMatch(/t-0/);
      expect(manager.offlineReason).toBe(reasons[0]);
      const late: string[] = [];
      manager.onOffline((r) => late.push(r));
      expect(late).toEqual(reasons);
    } finally {
      for (const f of immutable) chattr("-i", f);
      await manager.close().catch(() => undefined);
    }
  });
});
