// Goal: the `strand` binary's group commands work end to end as a process against an
// in-process fake GroupService (packages/client/test/fake-groups.ts; the real coordinator's
// proof is consumer-groups-cluster.test.ts): `consume -g` reads the group's partitions,
// commits exactly what it printed and a second run resumes after it; `group list`,
// `group describe` (lag per partition and totals) and a dry-run `group seek` print their
// tables and exit 0.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeCluster } from "../packages/client/test/fake-cluster.ts";
import { FakeGroups } from "../packages/client/test/fake-groups.ts";
import { runStrand } from "./support/strand-cli.ts";

let cluster: FakeCluster;
let groups: FakeGroups;
let brokers = "";

beforeAll(async () => {
  const fake = FakeGroups.install();
  cluster = await FakeCluster.start(2, fake.hook);
  groups = fake.groups();
  cluster.addTopic("t", 3);
  for (let p = 0; p < 3; p++) cluster.appendOther("t", p, [`a${p}`, `b${p}`]);
  brokers = cluster.addresses.join(",");
});

afterAll(async () => {
  await cluster?.stop();
});

describe("strand group commands against a fake coordinator", () => {
  it("consume -g commits what it printed; the next run resumes there", async () => {
    const first = await runStrand(brokers, ["consume", "t", "-g", "g", "-n", "3"]);
    expect(first.code, first.stderr).toBe(0);
    const second = await runStrand(brokers, ["consume", "t", "-g", "g", "-n", "3"]);
    expect(second.code, second.stderr).toBe(0);
    const all = [...first.stdout.trim().split("\n"), ...second.stdout.trim().split("\n")];
    expect(all.sort()).toEqual(["a0", "a1", "a2", "b0", "b1", "b2"]);
    // Both runs left the group cleanly (epoch -1), so it is empty.
    expect(groups.groups.get("g")!.members.size).toBe(0);
  }, 60_000);

  it("lists, describes with lag and totals, and seeks as a dry run", async () => {
    cluster.appendOther("t", 0, ["c0"]);
    const list = await runStrand(brokers, ["group", "list"]);
    expect(list.stdout).toMatch(/^GROUP\s+STATE\s+MEMBERS\s+COORDINATOR\ng\s+empty\s+0\s+1$/m);
    const described = await runStrand(brokers, ["group", "describe", "g"]);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/^t\s+0\s+2\s+3\s+1\s+-$/m);
    expect(described.stdout).toMatch(/^TOTAL\s+3\s+6\s+7\s+1$/m);
    const seek = await runStrand(brokers, ["group", "seek", "g", "--to", "earliest"]);
    expect(seek.code, seek.stderr).toBe(0);
    expect(seek.stdout).toContain("dry run: nothing changed");
    expect(groups.groups.get("g")!.offsets.get("t-0")).toBe(2n);
    const bad = await runStrand(brokers, ["group", "seek", "g", "--to", "first"]);
    expect(bad.code).toBe(2);
  }, 60_000);
});
