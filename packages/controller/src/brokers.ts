/**
 * Broker lifecycle handlers: registration, heartbeats (unfence, fence on request, controlled
 * shutdown), session expiry (tick), unregistration and producer-id blocks. Pure: each takes
 * the state, the request and nowMs and returns records, a response and new sessions.
 */
import { assert } from "@strand/base";
import { ErrorCode, type ErrorCodeInfo } from "@strand/protocol";
import {
  changesForLeavingBrokers,
  type Eligibility,
  electOfflinePartitions,
  eligibleIn,
} from "./election.ts";
import { type BrokerRegistration, nextProducerId } from "./image.ts";
import type { MetadataRecord } from "./records.ts";
import type {
  AllocateProducerIdsRequest,
  AllocateProducerIdsResponse,
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse,
  BrokerSession,
  BrokerSessions,
  ControllerResult,
  QuorumControllerState,
  RegisterBrokerRequest,
  RegisterBrokerResponse,
  ResponseBase,
  UnregisterBrokerRequest,
} from "./requests.ts";
import { type BrokerEpoch, type BrokerId, brokerEpoch, metadataOffset } from "./types.ts";

/** A successful response base. */
export const OK: ResponseBase = Object.freeze({ errorCode: ErrorCode.NONE, errorMessage: null });

/** A failed response base. */
export function fail(errorCode: ErrorCodeInfo, errorMessage: string): ResponseBase {
  return { errorCode, errorMessage };
}

function withSession(sessions: BrokerSessions, s: BrokerSession): BrokerSessions {
  return new Map(sessions).set(s.brokerId, s);
}

/** True when the broker's session has not expired at nowMs. */
export function sessionAlive(state: QuorumControllerState, id: BrokerId, nowMs: number): boolean {
  const s = state.sessions.get(id);
  return s !== undefined && nowMs - s.lastContactMs <= state.config.sessionTimeoutMs;
}

/**
 * Registers a broker; it starts fenced. A broker with another incarnation and a live session
 * keeps its id (DUPLICATE_BROKER_REGISTRATION) until its session expires or it finished a
 * controlled shutdown. Re-registering a broker that was
 * unfenced moves its leadership away in the same batch.
 */
export function registerBroker(
  state: QuorumControllerState,
  req: RegisterBrokerRequest,
  nowMs: number,
): ControllerResult<RegisterBrokerResponse> {
  const old = state.image.brokers.get(req.brokerId);
  if (
    old !== undefined &&
    old.incarnationId !== req.incarnationId &&
    sessionAlive(state, req.brokerId, nowMs)
  ) {
    const msg = `broker ${req.brokerId} is live with incarnation ${old.incarnationId}`;
    return {
      records: [],
      response: { ...fail(ErrorCode.DUPLICATE_BROKER_REGISTRATION, msg), brokerEpoch: null },
    };
  }
  const bad = req.listeners.find(
    (l) => !(Number.isInteger(l.port) && l.port >= 1 && l.port <= 65535),
  );
  if (bad !== undefined || req.incarnationId.length === 0) {
    const msg = bad ? `listener ${bad.name} has port ${bad.port}` : "empty incarnation id";
    return {
      records: [],
      response: { ...fail(ErrorCode.INVALID_REQUEST, msg), brokerEpoch: null },
    };
  }
  const moves =
    old !== undefined && !old.fenced
      ? changesForLeavingBrokers(state.image, new Set([old.id]))
      : [];
  const records: MetadataRecord[] = [
    ...moves,
    {
      type: "registerBroker",
      brokerId: req.brokerId,
      incarnationId: req.incarnationId,
      listeners: req.listeners,
      rack: req.rack,
      fenced: true,
      brokerEpoch: null,
      inControlledShutdown: false,
    },
  ];
  const session: BrokerSession = {
    brokerId: req.brokerId,
    brokerEpoch: brokerEpoch(0),
    lastContactMs: nowMs,
    metadataOffset: metadataOffset(0),
    shutdownOffset: null,
  };
  return {
    records,
    response: { ...OK, brokerEpoch: null },
    sessions: withSession(state.sessions, session),
  };
}

type Broker = BrokerRegistration;

function checkBroker(
  state: QuorumControllerState,
  id: BrokerId,
  epoch: BrokerEpoch,
): Broker | ResponseBase {
  const b = state.image.brokers.get(id);
  if (b === undefined)
    return fail(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${id} is not registered`);
  if (b.epoch !== epoch) {
    return fail(ErrorCode.STALE_BROKER_EPOCH, `broker ${id} epoch ${epoch} is not ${b.epoch}`);
  }
  return b;
}

function isBroker(x: Broker | ResponseBase): x is Broker {
  return "incarnationId" in x;
}

/** Records that fence `b` and move its leadership (same batch). */
function fenceRecords(state: QuorumControllerState, b: Broker): MetadataRecord[] {
  return [
    { type: "fenceBroker", brokerId: b.id, brokerEpoch: b.epoch },
    ...changesForLeavingBrokers(state.image, new Set([b.id])),
  ];
}

/** Records that unfence `b` and elect it where partitions have no leader (same batch). */
function unfenceRecords(state: QuorumControllerState, b: Broker): MetadataRecord[] {
  const base = eligibleIn(state.image, new Set());
  const eligible: Eligibility = (id) => id === b.id || base(id);
  return [
    { type: "unfenceBroker", brokerId: b.id, brokerEpoch: b.epoch },
    // Only b became eligible: only partitions it replicates can gain a leader.
    ...electOfflinePartitions(state.image, eligible, new Set([b.id])),
  ];
}

interface HeartbeatStep {
  readonly records: MetadataRecord[];
  readonly fenced: boolean;
  readonly shouldShutdown: boolean;
  readonly shutdownOffset: BrokerSession["shutdownOffset"];
}

function shutdownStep(
  state: QuorumControllerState,
  b: Broker,
  req: BrokerHeartbeatRequest,
  prior: BrokerSession | undefined,
): HeartbeatStep {
  if (b.fenced) return { records: [], fenced: true, shouldShutdown: true, shutdownOffset: null };
  if (!b.inControlledShutdown) {
    const records: MetadataRecord[] = [
      { type: "brokerControlledShutdown", brokerId: b.id, brokerEpoch: b.epoch },
      ...changesForLeavingBrokers(state.image, new Set([b.id]), { allowUnclean: false }),
    ];
    return { records, fenced: false, shouldShutdown: false, shutdownOffset: null };
  }
  // The shutdown records are in the image now: the broker must apply them before it stops.
  const shutdownOffset = prior?.shutdownOffset ?? state.image.offset;
  const done = req.metadataOffset >= shutdownOffset && state.committedOffset >= shutdownOffset;
  if (!done) return { records: [], fenced: false, shouldShutdown: false, shutdownOffset };
  return { records: fenceRecords(state, b), fenced: true, shouldShutdown: true, shutdownOffset };
}

function heartbeatStep(
  state: QuorumControllerState,
  b: Broker,
  req: BrokerHeartbeatRequest,
  prior: BrokerSession | undefined,
): HeartbeatStep {
  if (req.wantShutdown || b.inControlledShutdown) return shutdownStep(state, b, req, prior);
  const none = { shouldShutdown: false, shutdownOffset: null };
  if (req.wantFence) {
    return { records: b.fenced ? [] : fenceRecords(state, b), fenced: true, ...none };
  }
  if (b.fenced && req.metadataOffset >= b.epoch) {
    return { records: unfenceRecords(state, b), fenced: false, ...none };
  }
  return { records: [], fenced: b.fenced, ...none };
}

/**
 * A broker heartbeat: renews the session; unfences the broker once its metadata reached its
 * registration offset; fences it when it asks; runs the controlled shutdown when it asks.
 */
export function brokerHeartbeat(
  state: QuorumControllerState,
  req: BrokerHeartbeatRequest,
  nowMs: number,
): ControllerResult<BrokerHeartbeatResponse> {
  const b = checkBroker(state, req.brokerId, req.brokerEpoch);
  if (!isBroker(b)) {
    const response = { ...b, isCaughtUp: false, isFenced: true, shouldShutdown: false };
    return { records: [], response };
  }
  const prior = state.sessions.get(b.id);
  const step = heartbeatStep(state, b, req, prior);
  const session: BrokerSession = {
    brokerId: b.id,
    brokerEpoch: b.epoch,
    lastContactMs: nowMs,
    metadataOffset: req.metadataOffset,
    shutdownOffset: step.shutdownOffset,
  };
  const response: BrokerHeartbeatResponse = {
    ...OK,
    isCaughtUp: req.metadataOffset >= b.epoch,
    isFenced: step.fenced,
    shouldShutdown: step.shouldShutdown,
  };
  // A broker that finished its controlled shutdown has no session: it may restart at once.
  const sessions = new Map(state.sessions);
  if (step.shouldShutdown) sessions.delete(b.id);
  else sessions.set(b.id, session);
  return { records: step.records, response, sessions };
}

/**
 * Fences every unfenced broker whose session expired, and moves their leadership, in ONE
 * batch. Unfenced brokers without a session (a new active controller) get one from nowMs.
 */
export function expireSessions(
  state: QuorumControllerState,
  nowMs: number,
): ControllerResult<{ readonly fenced: readonly BrokerId[] }> {
  const sessions = new Map(state.sessions);
  const expired: Broker[] = [];
  for (const b of state.image.brokers.values()) {
    const s = sessions.get(b.id);
    if (s === undefined || s.brokerEpoch !== b.epoch) {
      if (!b.fenced) sessions.set(b.id, newSession(b, nowMs));
      continue;
    }
    if (!b.fenced && nowMs - s.lastContactMs > state.config.sessionTimeoutMs) expired.push(b);
  }
  for (const id of sessions.keys()) if (!state.image.brokers.has(id)) sessions.delete(id);
  const leaving = new Set(expired.map((b) => b.id));
  const records: MetadataRecord[] = [
    ...expired.map((b) => ({ type: "fenceBroker" as const, brokerId: b.id, brokerEpoch: b.epoch })),
    ...(expired.length > 0 ? changesForLeavingBrokers(state.image, leaving) : []),
  ];
  return { records, response: { fenced: [...leaving] }, sessions };
}

function newSession(b: Broker, nowMs: number): BrokerSession {
  return {
    brokerId: b.id,
    brokerEpoch: b.epoch,
    lastContactMs: nowMs,
    metadataOffset: metadataOffset(0),
    shutdownOffset: null,
  };
}

/** Removes a broker: its leadership moves away in the same batch as the UnregisterBroker. */
export function unregisterBroker(
  state: QuorumControllerState,
  req: UnregisterBrokerRequest,
): ControllerResult<ResponseBase> {
  const b = state.image.brokers.get(req.brokerId);
  if (b === undefined) {
    const msg = `broker ${req.brokerId} is not registered`;
    return { records: [], response: fail(ErrorCode.BROKER_ID_NOT_REGISTERED, msg) };
  }
  const sessions = new Map(state.sessions);
  sessions.delete(b.id);
  const records: MetadataRecord[] = [
    ...changesForLeavingBrokers(state.image, new Set([b.id])),
    { type: "unregisterBroker", brokerId: b.id, brokerEpoch: b.epoch },
  ];
  return { records, response: OK, sessions };
}

/** Hands the broker the next block of producer ids. */
export function allocateProducerIds(
  state: QuorumControllerState,
  req: AllocateProducerIdsRequest,
): ControllerResult<AllocateProducerIdsResponse> {
  const b = checkBroker(state, req.brokerId, req.brokerEpoch);
  if (!isBroker(b)) return { records: [], response: { ...b, firstProducerId: -1n, size: 0 } };
  const size = state.config.producerIdBlockSize;
  const first = state.image.nextProducerId;
  if (first + BigInt(size) > 2n ** 63n - 1n) {
    const msg = "the producer id space is exhausted";
    return {
      records: [],
      response: { ...fail(ErrorCode.UNKNOWN, msg), firstProducerId: -1n, size: 0 },
    };
  }
  // Checked here, not only on replay, so that a bad block never reaches the log.
  assert(Number.isSafeInteger(size) && size > 0, `producer id block size ${size}`);
  assert(
    first >= nextProducerId(state.image.lastProducerIdsBlock),
    `producer id block at ${first} overlaps the last one`,
  );
  return {
    records: [
      {
        type: "producerIdsBlock",
        brokerId: b.id,
        brokerEpoch: b.epoch,
        firstProducerId: first,
        size,
      },
    ],
    response: { ...OK, firstProducerId: first, size },
  };
}
