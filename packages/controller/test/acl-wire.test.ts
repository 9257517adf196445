// The controller's CreateAcls / DeleteAcls wire edge: a bad ACL or filter is INVALID_ARGUMENT
// naming the item (never an assertion), and good ones become typed requests.
import { describe, expect, it } from "vitest";
import { createAclsFromWire, deleteAclsFromWire } from "../src/node/acl-wire.ts";
import { InvalidArgumentError } from "../src/node/wire.ts";

const acl = {
  id: "",
  principal: "User:alice",
  host: "",
  resourceType: "topic",
  patternType: "",
  resourceName: "orders",
  operation: "read",
  permission: "",
};

describe("ACL wire validation", () => {
  it("accepts and normalizes good input", () => {
    expect(createAclsFromWire({ acls: [acl] })).toEqual({
      type: "createAcls",
      acls: [
        {
          principal: "User:alice",
          host: "*",
          resourceType: "topic",
          patternType: "literal",
          resourceName: "orders",
          operation: "read",
          permission: "allow",
        },
      ],
    });
    expect(deleteAclsFromWire({ filters: [{ principal: "User:alice" }] })).toEqual({
      type: "deleteAcls",
      filters: [{ principal: "User:alice" }],
    });
  });

  it("refuses bad input with INVALID_ARGUMENT naming the item", () => {
    expect(() => createAclsFromWire({ acls: [acl, { ...acl, operation: "fly" }] })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createAclsFromWire({ acls: [{ ...acl, principal: "x" }] })).toThrow(/acls\[0\]/);
    expect(() => deleteAclsFromWire({ filters: [] })).toThrow(/1\.\.100 filters/);
    expect(() => deleteAclsFromWire({ filters: [{ permission: "maybe" }] })).toThrow(
      /filters\[0\]: permission/,
    );
  });
});
