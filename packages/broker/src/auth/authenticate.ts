import { MercatoError } from "@mercato/protocol";
import type { FastifyRequest } from "fastify";
import type { BrokerDeps, Caller } from "../http/route.js";
import { digestsEqual, hashApiKey, isWellFormedKey } from "./api-keys.js";

/**
 * Authenticates a request by its `Authorization: Bearer <key>` header as an account key's holder.
 *
 * @throws MercatoError `UNAUTHENTICATED` (no or malformed header), `INVALID_API_KEY` (unknown,
 *   revoked or expired key), `FORBIDDEN` (an access key on an account route).
 */
export async function authenticateAccount(request: FastifyRequest, deps: BrokerDeps): Promise<Caller> {
  const header = request.headers.authorization;
  if (header === undefined || header === "") {
    throw new MercatoError("UNAUTHENTICATED", "Send your API key as `Authorization: Bearer <key>`");
  }
  const secret = /^Bearer ([^\s]+)$/i.exec(header.trim())?.[1];
  if (secret === undefined || !isWellFormedKey(secret)) {
    throw new MercatoError(
      "UNAUTHENTICATED",
      "The Authorization header must be `Bearer <key>` with a Mercato key (mk_… or sk_live_…)",
    );
  }
  const hash = hashApiKey(secret);
  const key = await deps.store.findApiKeyByHash(hash);
  if (!key || !digestsEqual(key.hash, hash)) {
    throw new MercatoError("INVALID_API_KEY", "This API key is not valid");
  }
  if (key.revokedAt !== null) throw new MercatoError("INVALID_API_KEY", "This API key was revoked");
  if (key.expiresAt !== null && key.expiresAt <= deps.clock.now().toISOString()) {
    throw new MercatoError("INVALID_API_KEY", "This API key has expired");
  }
  if (key.kind !== "account") {
    throw new MercatoError(
      "FORBIDDEN",
      "Access keys (sk_live_…) only invoke the agent they were bought for; use an account key (mk_…)",
    );
  }
  const account = await deps.store.getAccount(key.accountId);
  if (!account) throw new MercatoError("INVALID_API_KEY", "This API key's account no longer exists");
  return { account, key };
}
