/**
 * AdminService CreateAcls / DescribeAcls / DeleteAcls (docs/security.md "Authorization").
 * Creates and deletes go to the active controller, which writes them to the metadata log;
 * the answer comes once this broker's image shows the change, so a check right after sees
 * it here. Describe answers from the local image. The cluster permission (ALTER / DESCRIBE)
 * is checked by the caller (admin.ts).
 */
import {
  type AclBinding,
  type AclEntry,
  type AclFilter,
  AclValidationError,
  describeAcls,
  type MetadataImage,
  validBinding,
  validFilter,
} from "@strand/controller";
import type {
  AdminAcl,
  AdminAclFilter__Output,
  AdminServiceCreateAclsRequest__Output,
  AdminServiceCreateAclsResponse,
  AdminServiceDeleteAclsRequest__Output,
  AdminServiceDeleteAclsResponse,
  AdminServiceDescribeAclsRequest__Output,
  AdminServiceDescribeAclsResponse,
} from "@strand/protocol";
import {
  ErrorCode,
  INTERNAL_REQUEST_ITEMS_MAX,
  InvalidArgumentError,
  listField,
} from "@strand/protocol";
import { askController } from "./admin.ts";
import type { ServiceContext } from "./context.ts";

/** Most filters of one DeleteAcls (each scans every ACL on the controller). */
const DELETE_FILTERS_MAX = 100;

function aclToWire(a: AclEntry): AdminAcl {
  return { ...a };
}

/** A filter from the wire; a bad field is INVALID_ARGUMENT naming it. */
function filterFromWire(f: AdminAclFilter__Output | null, where: string): AclFilter {
  if (f === null) return {};
  try {
    return validFilter(f);
  } catch (error) {
    if (error instanceof AclValidationError)
      throw new InvalidArgumentError(`${where}: ${error.message}`);
    throw error;
  }
}

function controllerError(e: { code: number; name: string; message: string } | null) {
  return e === null || e.code === 0 ? null : { code: e.code, text: `${e.name}: ${e.message}` };
}

/** Creates the valid entries; an invalid one fails alone with INVALID_REQUEST. */
export async function createAcls(
  ctx: ServiceContext,
  req: AdminServiceCreateAclsRequest__Output,
): Promise<AdminServiceCreateAclsResponse> {
  const parsed = listField(req.acls, "acls", 1, INTERNAL_REQUEST_ITEMS_MAX).map(
    (a): AclBinding | string => {
      try {
        return validBinding(a);
      } catch (error) {
        if (error instanceof AclValidationError) return error.message;
        throw error;
      }
    },
  );
  const valid = parsed.filter((p): p is AclBinding => typeof p !== "string");
  const response =
    valid.length === 0
      ? { error: null, results: [] }
      : await askController("CreateAcls", () =>
          ctx.controller.createAcls({ acls: valid.map((b) => ({ id: "", ...b })) }),
        );
  const top = controllerError(response.error);
  let k = 0;
  const results = parsed.map((p) => {
    if (typeof p === "string") {
      const e = ErrorCode.INVALID_REQUEST;
      return { id: "", errorCode: e.code, errorMessage: `${e.name}: ${p}` };
    }
    const r = response.results[k++];
    const e = top ?? controllerError(r?.error ?? null);
    return e === null
      ? { id: r?.id ?? "", errorCode: 0, errorMessage: "" }
      : { id: "", errorCode: e.code, errorMessage: e.text };
  });
  const ids = results.filter((r) => r.errorCode === 0).map((r) => r.id);
  if (ids.length > 0)
    await ctx.waitForImage(
      (img) => ids.every((id) => img.acls.has(id)),
      ctx.defaults.requestTimeoutMs,
    );
  return { results };
}

/** The entries matching the filter, from this broker's image. */
export function describeAclsResponse(
  image: MetadataImage,
  req: AdminServiceDescribeAclsRequest__Output,
): AdminServiceDescribeAclsResponse {
  return { acls: describeAcls(image, filterFromWire(req.filter, "filter")).map(aclToWire) };
}

/** Deletes the entries matching each filter; answers what each removed. */
export async function deleteAcls(
  ctx: ServiceContext,
  req: AdminServiceDeleteAclsRequest__Output,
): Promise<AdminServiceDeleteAclsResponse> {
  const filters = listField(req.filters, "filters", 1, DELETE_FILTERS_MAX).map((f, i) =>
    filterFromWire(f, `filters[${i}]`),
  );
  const response = await askController("DeleteAcls", () =>
    ctx.controller.deleteAcls({ filters: filters.map((f) => ({ ...f })) }),
  );
  const top = controllerError(response.error);
  const results = filters.map((_, i) => {
    const r = response.results[i];
    const e = top ?? controllerError(r?.error ?? null);
    if (e !== null) return { errorCode: e.code, errorMessage: e.text, removed: [] };
    return { errorCode: 0, errorMessage: "", removed: (r?.removed ?? []).map((a) => ({ ...a })) };
  });
  const gone = results.flatMap((r) => r.removed.map((a) => a.id ?? ""));
  if (gone.length > 0)
    await ctx.waitForImage(
      (img) => gone.every((id) => !img.acls.has(id)),
      ctx.defaults.requestTimeoutMs,
    );
  return { results };
}
