import { MercatoError } from "@mercato/protocol";
import { z } from "zod";
import { generateApiKey } from "../auth/api-keys.js";
import { defineRoute } from "../http/route.js";
import { newId } from "../ids.js";
import type { ApiKeyRecord, Store } from "../store/types.js";
import { presentAccount, presentKey } from "./presenters.js";

const KeyParams = z.object({ id: z.string().max(64).describe("Key id (key_…)") });

/** Sign-up, the caller's account, and account-key management. */
export const accountRoutes = [
  defineRoute({
    method: "POST",
    url: "/accounts",
    operationId: "createAccount",
    tag: "Accounts",
    summary: "Create an account",
    description: "Signs up and returns the account with its first account key (mk_…), shown once.",
    auth: "none",
    body: "CreateAccountRequest",
    success: { status: 201, schema: "CreateAccountResponse", description: "The account and its key" },
    async handler({ deps, body }) {
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
      return { data: keys.map(presentKey) };
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
      return presentKey(revoked ?? key);
    },
  }),
  defineRoute({
    method: "POST",
    url: "/keys/:id/rotate",
    operationId: "rotateKey",
    tag: "Keys",
    summary: "Rotate a key",
    description:
      "Revokes the key and issues a replacement with the same name, kind, agent, rate limit and expiry. The new secret is shown once.",
    auth: "account",
    params: KeyParams,
    errors: ["NOT_FOUND", "CONFLICT"],
    success: { status: 201, schema: "CreatedKey", description: "The replacement key with its secret" },
    async handler({ deps, caller, params }) {
      const old = await ownKey(deps.store, caller.account.id, params.id);
      if (old.revokedAt !== null) throw new MercatoError("CONFLICT", "A revoked key cannot be rotated");
      const now = deps.clock.now().toISOString();
      const generated = generateApiKey(old.kind);
      const replacement: ApiKeyRecord = {
        ...old,
        id: newId("key"),
        prefix: generated.prefix,
        hash: generated.hash,
        createdAt: now,
        revokedAt: null,
      };
      if (!(await deps.store.rotateApiKey(old.id, replacement, now))) {
        throw new MercatoError("CONFLICT", "The key was revoked while rotating it");
      }
      return { ...presentKey(replacement), api_key: generated.secret };
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
    expiresAt: options.expiresAt,
    createdAt: now,
    revokedAt: null,
  };
}

async function ownKey(store: Store, accountId: string, keyId: string) {
  const key = await store.getApiKey(keyId);
  // Another account's key is reported as missing, not forbidden: ids are not confirmed to strangers.
  if (!key || key.accountId !== accountId)
    throw new MercatoError("NOT_FOUND", `No key ${keyId} on this account`);
  return key;
}
