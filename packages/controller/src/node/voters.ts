/**
 * Dynamic voters (KIP-853's AddRaftVoter / RemoveRaftVoter) at the controller's I/O edge.
 *
 * Voter addresses travel in the metadata log: before the active controller proposes the Raft
 * configuration entry that adds voter N, it commits a ConfigRecord on the resource
 * `broker/N` with the key {@link VOTER_ENDPOINT_CONFIG_KEY} and N's internal `host:port`.
 * Every node (every voter, and every broker following the log) applies it in log order, and
 * snapshots carry it with the image, so any node that holds the configuration entry also
 * knows where the new voter listens; a node adds it to its transport with
 * {@link voterEndpoints}. The key is not a settable config (AlterConfigs refuses unknown
 * keys), so only AddRaftVoter writes it.
 */
import { ErrorCode, type ErrorCodeInfo } from "@strand/protocol";
import { type DirectoryId, directoryId, type NodeId, nodeId } from "@strand/raft";
import type { MetadataImage } from "../image.ts";
import type { ConfigRecord } from "../records.ts";
import { parseVoters } from "./config.ts";
import { InvalidArgumentError } from "./wire.ts";

/** The config key (on resource `broker/<id>`) that holds a voter's internal address. */
export const VOTER_ENDPOINT_CONFIG_KEY = "controller.quorum.endpoint";

/** A voter to add: its key and its internal address. */
export interface VoterEndpoint {
  readonly id: NodeId;
  readonly dir: DirectoryId;
  /** `host:port` of its internal listener. */
  readonly address: string;
}

/** The outcome of a voter change: NONE, or an error code with what to do. */
export interface VoterChangeOutcome {
  readonly errorCode: ErrorCodeInfo;
  /** Why it failed, or null on success. */
  readonly errorMessage: string | null;
}

/** The successful outcome. */
export const VOTER_CHANGE_OK: VoterChangeOutcome = {
  errorCode: ErrorCode.NONE,
  errorMessage: null,
};

/** An outcome with `code` and `message`. */
export function voterChangeError(code: ErrorCodeInfo, message: string): VoterChangeOutcome {
  return { errorCode: code, errorMessage: message };
}

/** The record that publishes `v`'s address to every node. */
export function endpointRecord(v: VoterEndpoint): ConfigRecord {
  return {
    type: "config",
    resource: { type: "broker", name: String(v.id) },
    key: VOTER_ENDPOINT_CONFIG_KEY,
    value: v.address,
  };
}

/** The voter addresses committed in `image`, by node id. */
export function voterEndpoints(image: MetadataImage): Map<NodeId, string> {
  const out = new Map<NodeId, string>();
  for (const [resource, values] of image.configs) {
    const address = values.get(VOTER_ENDPOINT_CONFIG_KEY);
    const m = /^broker\/(\d+)$/.exec(resource);
    if (address === undefined || m === null) continue;
    out.set(nodeId(Number(m[1])), address);
  }
  return out;
}

/**
 * Validates a voter from the wire (`id`, a uuid `dir`, and `host:port` when `address` is
 * given); throws {@link InvalidArgumentError} naming the bad field.
 */
export function voterFromWire(id: unknown, dir: unknown, address?: unknown): VoterEndpoint {
  const where = "AddRaftVoter/RemoveRaftVoter";
  if (typeof dir !== "string" || !/^[0-9a-f-]{36}$/.test(dir))
    throw new InvalidArgumentError(`${where}: directory_id must be a lowercase uuid`);
  if (typeof id !== "number" || !Number.isInteger(id) || id < 1)
    throw new InvalidArgumentError(`${where}: node_id must be a positive int32`);
  if (address === undefined) return { id: nodeId(id), dir: directoryId(dir), address: "" };
  try {
    const [v] = parseVoters(`${id}@${String(address)}:${dir}`);
    if (v === undefined) throw new Error("no voter");
    return { id: v.id, dir: directoryId(dir), address: String(address) };
  } catch {
    throw new InvalidArgumentError(`${where}: address must be host:port, got ${String(address)}`);
  }
}
