/**
 * ControllerService CreateAcls / DeleteAcls from and to the wire. Every field is validated by
 * acls.ts; a bad one becomes INVALID_ARGUMENT naming the item.
 */
import type {
  AclEntry__Output,
  AclFilter__Output,
  CreateAclsRequest__Output,
  DeleteAclsRequest__Output,
  AclEntry as WireAclEntry,
} from "@strand/protocol";
import { InvalidArgumentError } from "@strand/protocol";
import {
  type AclEntry,
  AclValidationError,
  type CreateAclsRequest,
  type DeleteAclsRequest,
  validBinding,
  validFilter,
} from "../acls.ts";
import { list } from "./wire.ts";

/** Most filters one DeleteAcls may carry: each is a scan of every ACL. */
export const DELETE_ACLS_FILTERS_MAX = 100;

function validated<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof AclValidationError)
      throw new InvalidArgumentError(`${what}: ${error.message}`);
    throw error;
  }
}

/** CreateAcls from the wire. */
export function createAclsFromWire(r: CreateAclsRequest__Output): CreateAclsRequest {
  const acls = list<AclEntry__Output>(r.acls, "acls").map((a, i) =>
    validated(`acls[${i}]`, () => validBinding(a)),
  );
  return { type: "createAcls", acls };
}

/** DeleteAcls from the wire. */
export function deleteAclsFromWire(r: DeleteAclsRequest__Output): DeleteAclsRequest {
  const filters = list<AclFilter__Output>(r.filters, "filters");
  if (filters.length === 0 || filters.length > DELETE_ACLS_FILTERS_MAX)
    throw new InvalidArgumentError(`filters must hold 1..${DELETE_ACLS_FILTERS_MAX} filters`);
  return {
    type: "deleteAcls",
    filters: filters.map((f, i) => validated(`filters[${i}]`, () => validFilter(f))),
  };
}

/** A stored ACL on the wire. */
export function aclToWire(a: AclEntry): WireAclEntry {
  return { ...a };
}
