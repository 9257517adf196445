// `strand acl` option parsing: one resource, required fields, operation spelling, filters.
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/args.ts";
import { bindingOf, filterOf } from "../src/commands/acl.ts";

describe("strand acl options", () => {
  it("builds a binding with Kafka's defaults (any host, literal, allow)", () => {
    expect(
      bindingOf({ principal: "User:alice", topic: "orders", operation: "describe-configs" }),
    ).toEqual({
      principal: "User:alice",
      host: "*",
      resourceType: "topic",
      patternType: "literal",
      resourceName: "orders",
      operation: "describe_configs",
      permission: "allow",
    });
    expect(
      bindingOf({
        principal: "User:*",
        group: "g.",
        prefixed: true,
        operation: "READ",
        deny: true,
      }),
    ).toMatchObject({
      resourceType: "group",
      patternType: "prefixed",
      operation: "read",
      permission: "deny",
    });
    expect(bindingOf({ principal: "User:ops", cluster: true, operation: "alter" })).toMatchObject({
      resourceType: "cluster",
      resourceName: "cluster",
    });
  });

  it.each([
    [{ topic: "t", operation: "read" }, /needs --principal/],
    [{ principal: "User:a", operation: "read" }, /needs --topic, --group or --cluster/],
    [{ principal: "User:a", topic: "t" }, /needs --operation/],
    [{ principal: "User:a", topic: "t", group: "g", operation: "read" }, /name one resource/],
    [{ principal: "User:a", topic: "t", operation: "fly" }, /--operation must be one of/],
  ])("refuses %j", (options, message) => {
    expect(() => bindingOf(options)).toThrow(UsageError);
    expect(() => bindingOf(options)).toThrow(message);
  });

  it("filters only on what is given", () => {
    expect(filterOf({})).toEqual({});
    expect(filterOf({ principal: "User:bob", topic: "orders", deny: true })).toEqual({
      principal: "User:bob",
      resourceType: "topic",
      resourceName: "orders",
      permission: "deny",
    });
    expect(filterOf({ cluster: true })).toEqual({ resourceType: "cluster" });
  });
});
