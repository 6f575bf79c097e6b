import { MercatoError, parseUsd } from "@mercato/protocol";
import { z } from "zod";
import { figure } from "../platform/http/figures.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { newId } from "../platform/ids.js";
import { DEFAULT_FRAUD_SETTINGS } from "../platform/settings.js";
import { generateApiKey } from "./api-keys.js";
import type { AccountsDeps } from "./deps.js";
import type { ApiKeyRecord } from "./port.js";
import { presentAccount, presentKey } from "./presenters.js";
import { enforceSignupLimit } from "./signup-limit.js";

const defineRoute = routeDefiner<AccountsDeps>();

const KeyParams = z.object({ id: z.string().max(64).describe("Key id (key_…)") });

/** Sign-up, the caller's account, and account-key management. */
export const accountRoutes: Route<AccountsDeps>[] = [
  defineRoute({
    method: "POST",
    url: "/accounts",
    operationId: "createAccount",
    tag: "Accounts",
    summary: "Create an account",
    description: `Signs up and returns the account with its first account key (mk_…), shown once. One client address may create ${figure(DEFAULT_FRAUD_SETTINGS.signupsPerHour)} accounts an hour (the default; the broker's \`--signup-rate-limit\`): every answer carries \`RateLimit-Limit\`, \`RateLimit-Remaining\`, \`RateLimit-Reset\` and \`RateLimit-Policy\`, and one past the limit is RATE_LIMITED (429) with \`Retry-After\`, creating nothing.`,
    auth: "none",
    body: "CreateAccountRequest",
    errors: ["RATE_LIMITED"],
    rateLimited: true,
    success: { status: 201, schema: "CreateAccountResponse", description: "The account and its key" },
    async handler({ deps, body, request, reply }) {
      await enforceSignupLimit(deps, request, reply);
      const now = deps.clock.now().toISOString();
      const account = { id: newId("acct"), name: body.name, email: body.email ?? null, createdAt: now };
      const generated = generateApiKey("account");
      const key = accountKey(account.id, generated, { name: "default", expiresAt: null }, now);
      await deps.store.createAccount(account, key);
      return { ...presentAccount(account), api_key: generated.secret, key: presentKey(key) };
    },
  }),
  defineRoute({
    method: "GET",
    url: "/accounts/me",
    operationId: "getMyAccount",
    tag: "Accounts",
    summary: "The account of the calling key",
    auth: "account",
    success: { status: 200, schema: "Account", description: "The account" },
    async handler({ caller }) {
      return presentAccount(caller.account);
    },
  }),
  defineRoute({
    method: "GET",
    url: "/keys",
    operationId: "listKeys",
    tag: "Keys",
    summary: "List the account's API keys",
    description:
      "Account and access keys, newest first, revoked ones included. Secrets are never shown again.",
    auth: "account",
    success: { status: 200, schema: "KeyList", description: "The keys" },
    async handler({ deps, caller }) {
      const keys = await deps.store.listApiKeys(caller.account.id);
      const spent = await deps.store.getKeySpend(keys.filter((k) => k.kind === "access").map((k) => k.id));
      return { data: keys.map((key) => presentKey(key, spent.get(key.id))) };
    },
  }),
  defineRoute({
    method: "POST",
    url: "/keys",
    operationId: "createKey",
    tag: "Keys",
    summary: "Create an account key",
    description: "A new account key (mk_…), optionally named and expiring. The secret is shown once.",
    auth: "account",
    body: "CreateKeyRequest",
    success: { status: 201, schema: "CreatedKey", description: "The key with its secret" },
    async handler({ deps, caller, body }) {
      const now = deps.clock.now();
      const expiresAt = body.expires_at === undefined ? null : new Date(body.expires_at);
      if (expiresAt && expiresAt <= now) {
        throw new MercatoError("VALIDATION_ERROR", "Invalid body: expires_at: must be in the future", {
          details: { issues: [{ path: "expires_at", message: "must be in the future" }] },
        });
      }
      const generated = generateApiKey("account");
      const key = accountKey(
        caller.account.id,
        generated,
        { name: body.name ?? null, expiresAt: expiresAt?.toISOString() ?? null },
        now.toISOString(),
      );
      await deps.store.insertApiKey(key);
      return { ...presentKey(key), api_key: generated.secret };
    },
  }),
  defineRoute({
    method: "DELETE",
    url: "/keys/:id",
    operationId: "revokeKey",
    tag: "Keys",
    summary: "Revoke a key",
    description:
      "Revokes a key at once. Revoking a revoked key is a no-op. The last working account key cannot be revoked (409): create another first.",
    auth: "account",
    params: KeyParams,
    errors: ["NOT_FOUND", "CONFLICT"],
    success: { status: 200, schema: "ApiKey", description: "The revoked key" },
    async handler({ deps, caller, params }) {
      const key = await ownKey(deps.store, caller.account.id, params.id);
      if (key.revokedAt === null && key.kind === "account") {
        const now = deps.clock.now().toISOString();
        const working = (await deps.store.listApiKeys(caller.account.id)).filter(
          (k) => k.kind === "account" && k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now),
        );
        if (working.length === 1 && working[0]?.id === key.id) {
          throw new MercatoError(
            "CONFLICT",
            "This is the account's last working account key: create another before revoking it",
          );
        }
      }
      const revoked = await deps.store.revokeApiKey(key.id, deps.clock.now().toISOString());
      deps.keyCache.invalidate(key.hash);
      return presentKey(revoked ?? key, await spentBy(deps.store, key));
    },
  }),
  defineRoute({
    method: "PATCH",
    url: "/keys/:id",
    operationId: "updateKey",
    tag: "Keys",
    summary: "Change a key's name, rate limit or spend cap",
    description:
      "`rate_limit` (calls per minute) and `spend_cap_usd` apply to access keys only; `null` restores the broker's default rate limit or removes the cap. A cap below what the key has spent stops its next call.",
    auth: "account",
    params: KeyParams,
    body: "UpdateKeyRequest",
    errors: ["NOT_FOUND", "CONFLICT"],
    success: { status: 200, schema: "ApiKey", description: "The key as it is now" },
    async handler({ deps, caller, params, body }) {
      const key = await ownKey(deps.store, caller.account.id, params.id);
      if (key.kind === "account" && (body.rate_limit !== undefined || body.spend_cap_usd !== undefined)) {
        throw new MercatoError(
          "VALIDATION_ERROR",
          "rate_limit and spend_cap_usd apply to access keys (sk_live_… or sk_test_…); account keys are limited by the account's monthly cap",
        );
      }
      if (key.revokedAt !== null) throw new MercatoError("CONFLICT", "A revoked key cannot be changed");
      const updated = await deps.store.updateApiKey(key.id, {
        ...(body.name !== undefined && { name: body.name }),
        ...(body.rate_limit !== undefined && { rateLimit: body.rate_limit }),
        ...(body.spend_cap_usd !== undefined && {
          spendCap: body.spend_cap_usd === null ? null : Number(parseUsd(body.spend_cap_usd)),
        }),
      });
      deps.keyCache.invalidate(key.hash);
      if (!updated) throw new MercatoError("NOT_FOUND", `No key ${params.id} on this account`);
      return presentKey(updated, await spentBy(deps.store, updated));
    },
  }),
  defineRoute({
    method: "POST",
    url: "/keys/:id/rotate",
    operationId: "rotateKey",
    tag: "Keys",
    summary: "Rotate a key",
    description:
      "Revokes the key and issues a replacement with the same name, kind, agent, rate limit, spend cap and expiry; an access key's spending carries over, so its cap is not reset, and so does a suspension (reinstate the replacement once its calls are yours again). The new secret is shown once.",
    auth: "account",
    params: KeyParams,
    errors: ["NOT_FOUND", "CONFLICT"],
    success: { status: 201, schema: "CreatedKey", description: "The replacement key with its secret" },
    async handler({ deps, caller, params }) {
      const old = await ownKey(deps.store, caller.account.id, params.id);
      if (old.revokedAt !== null) throw new MercatoError("CONFLICT", "A revoked key cannot be rotated");
      const now = deps.clock.now().toISOString();
      const generated = generateApiKey(old.kind, deps.config.dev ? "test" : "live");
      const replacement: ApiKeyRecord = {
        ...old,
        id: newId("key"),
        prefix: generated.prefix,
        hash: generated.hash,
        createdAt: now,
        revokedAt: null,
      };
      const rotated = await deps.store.rotateApiKey(old.id, replacement, now);
      deps.keyCache.invalidate(old.hash);
      if (!rotated) throw new MercatoError("CONFLICT", "The key was revoked while rotating it");
      return {
        ...presentKey(replacement, await spentBy(deps.store, replacement)),
        api_key: generated.secret,
      };
    },
  }),
  defineRoute({
    method: "POST",
    url: "/keys/:id/reinstate",
    operationId: "reinstateKey",
    tag: "Keys",
    summary: "Reinstate a suspended access key",
    description:
      "Lifts a suspension: fraud detection suspends an access key whose calls burst far above its own usual rate (`suspended_at`, `suspend_reason`), and its calls answer KEY_SUSPENDED until then. Reinstate it when the calls were yours; if they were not, revoke or rotate the key instead. The key's call history starts afresh: it is judged as a new key. 409 when the key is not suspended.",
    auth: "account",
    params: KeyParams,
    errors: ["NOT_FOUND", "CONFLICT"],
    success: { status: 200, schema: "ApiKey", description: "The key, working again" },
    async handler({ deps, caller, params }) {
      const key = await ownKey(deps.store, caller.account.id, params.id);
      if (key.suspendedAt === null) throw new MercatoError("CONFLICT", `Key ${key.id} is not suspended`);
      const reinstated = await deps.store.reinstateApiKey(key.id);
      deps.keyCache.invalidate(key.hash);
      deps.fraud.reset(key.id);
      if (!reinstated) throw new MercatoError("CONFLICT", `Key ${key.id} is not suspended`);
      deps.log.info({ key_id: key.id, account_id: key.accountId }, "access key reinstated by its owner");
      const now = { ...key, suspendedAt: null, suspendReason: null };
      return presentKey(now, await spentBy(deps.store, now));
    },
  }),
];

function accountKey(
  accountId: string,
  generated: { hash: string; prefix: string },
  options: { name: string | null; expiresAt: string | null },
  now: string,
): ApiKeyRecord {
  return {
    id: newId("key"),
    accountId,
    kind: "account",
    name: options.name,
    prefix: generated.prefix,
    hash: generated.hash,
    agentId: null,
    rateLimit: null,
    spendCap: null,
    suspendedAt: null,
    suspendReason: null,
    expiresAt: options.expiresAt,
    createdAt: now,
    revokedAt: null,
  };
}

async function spentBy(store: AccountsDeps["store"], key: ApiKeyRecord): Promise<number> {
  if (key.kind !== "access") return 0;
  return (await store.getKeySpend([key.id])).get(key.id) ?? 0;
}

async function ownKey(store: AccountsDeps["store"], accountId: string, keyId: string) {
  const key = await store.getApiKey(keyId);
  // Another account's key is reported as missing, not forbidden: ids are not confirmed to strangers.
  if (!key || key.accountId !== accountId)
    throw new MercatoError("NOT_FOUND", `No key ${keyId} on this account`);
  return key;
}
