import { createHash, timingSafeEqual } from "node:crypto";
import { MercatoError } from "@mercato/protocol";
import type { FastifyRequest } from "fastify";
import type { Clock } from "../platform/clock.js";
import { digestsEqual, hashApiKey, isWellFormedKey } from "./api-keys.js";
import type { KeyCache } from "./key-cache.js";
import type { AccountRecord, AccountsStore, ApiKeyRecord } from "./port.js";

/** What authentication reads: keys and accounts, the clock, the key cache and the admin token. */
export interface AuthDeps {
  store: Pick<AccountsStore, "findApiKeyByHash" | "getAccount">;
  clock: Clock;
  keyCache: KeyCache;
  /** The admin token (`MERCATO_ADMIN_TOKEN`); undefined turns the admin routes off. */
  config: { adminToken: string | undefined };
}

declare module "../platform/http/route.js" {
  /** The callers routes see: an account key's holder, or an access key. */
  interface RouteCallers {
    account: Caller;
    access: AccessCaller;
  }
}

/** The authenticated caller of a route with `auth: "account"`. */
export interface Caller {
  account: AccountRecord;
  key: ApiKeyRecord;
}

/** The authenticated caller of a route with `auth: "access"`: an access key, bought for one agent. */
export interface AccessCaller {
  key: ApiKeyRecord;
}

/**
 * Authenticates a request by its `Authorization: Bearer <key>` header as an account key's holder.
 *
 * @throws MercatoError `UNAUTHENTICATED` (no or malformed header), `INVALID_API_KEY` (unknown,
 *   revoked or expired key), `FORBIDDEN` (an access key on an account route).
 */
export async function authenticateAccount(request: FastifyRequest, deps: AuthDeps): Promise<Caller> {
  const secret = bearerKey(request);
  const hash = hashApiKey(secret);
  const key = await deps.store.findApiKeyByHash(hash);
  checkKey(key, hash, deps.clock.now().toISOString());
  if (key.kind !== "account") {
    throw new MercatoError(
      "FORBIDDEN",
      "Access keys (sk_live_… or sk_test_…) only invoke the agent they were bought for; use an account key (mk_…)",
    );
  }
  const account = await deps.store.getAccount(key.accountId);
  if (!account) throw new MercatoError("INVALID_API_KEY", "This API key's account no longer exists");
  return { account, key };
}

/**
 * Authenticates an invoke by its access key (`sk_live_…`, or `sk_test_…` from a dev broker). Keys are looked up through the key
 * cache, so a call reads the store for its key at most once per cache period (a suspension made
 * in this process drops the key from the cache at once; one made by another process sharing the
 * store is seen within the cache period).
 *
 * @throws MercatoError `UNAUTHENTICATED`, `INVALID_API_KEY` (unknown, revoked or expired),
 *   `AGENT_NOT_PURCHASED` for an account key (mk_…), which buys access but does not invoke, or
 *   `KEY_SUSPENDED` for a key that fraud detection suspended.
 */
export async function authenticateAccess(request: FastifyRequest, deps: AuthDeps): Promise<AccessCaller> {
  const key = await cachedKey(request, deps);
  if (key.kind !== "access") {
    throw new MercatoError(
      "AGENT_NOT_PURCHASED",
      "Invoke with the access key (sk_live_… or sk_test_…) that POST /purchase issued for this agent, not an account key",
    );
  }
  if (key.suspendedAt !== null) throw keySuspended(key);
  return { key };
}

/**
 * Authenticates a request by any key of an account: an account key, or an access key that is not
 * suspended (looked up through the key cache, as invokes). The caller is the key's account; what
 * the key may do is the route's to check (an access key is bought for one agent).
 *
 * @throws MercatoError `UNAUTHENTICATED`, `INVALID_API_KEY` (unknown, revoked or expired),
 *   `KEY_SUSPENDED`.
 */
export async function authenticateKey(request: FastifyRequest, deps: AuthDeps): Promise<AccessCaller> {
  const key = await cachedKey(request, deps);
  if (key.suspendedAt !== null) throw keySuspended(key);
  return { key };
}

/** The valid key of `Authorization: Bearer <key>`, through the key cache. */
async function cachedKey(request: FastifyRequest, deps: AuthDeps): Promise<ApiKeyRecord> {
  const secret = bearerKey(request);
  const hash = hashApiKey(secret);
  const nowMs = deps.clock.now().getTime();
  let key = await deps.keyCache.get(hash, nowMs);
  if (key === undefined) {
    key = await deps.store.findApiKeyByHash(hash);
    if (key) deps.keyCache.set(key, nowMs);
  }
  checkKey(key, hash, new Date(nowMs).toISOString());
  return key;
}

/** The refusal of a suspended access key: why, and how its owner lifts the suspension. */
export function keySuspended(key: Pick<ApiKeyRecord, "id" | "suspendedAt" | "suspendReason">): MercatoError {
  const reason = key.suspendReason ?? "suspended by fraud detection";
  return new MercatoError(
    "KEY_SUSPENDED",
    `This access key was suspended${key.suspendedAt === null ? "" : ` at ${key.suspendedAt}`}: ${reason}. If the calls were yours, the key's owner can reinstate it with POST /keys/${key.id}/reinstate (with an account key); if not, revoke or rotate it.`,
    {
      details: {
        key_id: key.id,
        suspended_at: key.suspendedAt,
        reason,
        reinstate: `POST /keys/${key.id}/reinstate`,
      },
    },
  );
}

/** The key in `Authorization: Bearer <key>`, when it has a Mercato key's shape. */
function bearerKey(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header === undefined || header === "") {
    throw new MercatoError("UNAUTHENTICATED", "Send your API key as `Authorization: Bearer <key>`");
  }
  const secret = /^Bearer ([^\s]+)$/i.exec(header.trim())?.[1];
  if (secret === undefined || !isWellFormedKey(secret)) {
    throw new MercatoError(
      "UNAUTHENTICATED",
      "The Authorization header must be `Bearer <key>` with a Mercato key (mk_…, sk_live_… or sk_test_…)",
    );
  }
  return secret;
}

/** Refuses an unknown, revoked or expired key. */
function checkKey(key: ApiKeyRecord | undefined, hash: string, now: string): asserts key is ApiKeyRecord {
  if (!key || !digestsEqual(key.hash, hash)) {
    throw new MercatoError("INVALID_API_KEY", "This API key is not valid");
  }
  if (key.revokedAt !== null) throw new MercatoError("INVALID_API_KEY", "This API key was revoked");
  if (key.expiresAt !== null && key.expiresAt <= now) {
    throw new MercatoError("INVALID_API_KEY", "This API key has expired");
  }
}

/**
 * Authenticates an admin request by `Authorization: Bearer <MERCATO_ADMIN_TOKEN>`.
 *
 * @throws MercatoError `FORBIDDEN` when the broker has no admin token (admin routes are off),
 *   `UNAUTHENTICATED` when the header is missing or the token is wrong.
 */
export function authenticateAdmin(request: FastifyRequest, deps: Pick<AuthDeps, "config">): void {
  const token = deps.config.adminToken;
  if (token === undefined) {
    throw new MercatoError(
      "FORBIDDEN",
      "Admin routes are off: start the broker with MERCATO_ADMIN_TOKEN set",
    );
  }
  const presented = /^Bearer ([^\s]+)$/i.exec(request.headers.authorization?.trim() ?? "")?.[1];
  // Compare digests so that the comparison takes the same time whatever the lengths.
  const digest = (value: string) => createHash("sha256").update(value).digest();
  if (presented === undefined || !timingSafeEqual(digest(presented), digest(token))) {
    throw new MercatoError("UNAUTHENTICATED", "Admin routes need `Authorization: Bearer <admin token>`");
  }
}
