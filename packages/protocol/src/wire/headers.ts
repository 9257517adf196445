/**
 * gRPC metadata header names of the Strand wire contract. Both ends import them from here so
 * a rename cannot leave one side listening for a header the other no longer sends.
 */

/** Request header: a broker forwarded this client request to the partition leader (one hop). */
export const FORWARDED_HEADER = "strand-forwarded";

/** Request header: a controller forwarded this request to the active controller (one hop). */
export const FORWARDED_BY_HEADER = "strand-forwarded-by";

/** Trailer on UNAVAILABLE answers: how long to wait before retrying, in milliseconds. */
export const RETRY_AFTER_HEADER = "strand-retry-after-ms";

/** Request header: a SCRAM session token from AuthService.ScramFinish (docs/security.md). */
export const SESSION_HEADER = "strand-session";

/** Request header: `Bearer <JWT>` (RFC 6750). */
export const AUTHORIZATION_HEADER = "authorization";

/**
 * Request header of a forwarded client request: the principal the forwarding broker
 * authenticated, as JSON. A broker honours it only from a caller whose certificate names a
 * cluster node; from anyone else the call is refused.
 */
export const PRINCIPAL_HEADER = "strand-principal";
