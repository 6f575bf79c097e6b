import * as z from "zod";
import { AccountId, AgentId, KeyId, Timestamp, UsdAmount } from "./common.js";

/** `POST /accounts`: sign up. */
export const CreateAccountRequest = z.strictObject({
  name: z.string().trim().min(1).max(100),
  email: z.email().max(254).optional(),
});

/** A marketplace account (`GET /accounts/me`). */
export const Account = z.object({
  account_id: AccountId,
  name: z.string(),
  email: z.string().nullable(),
  created_at: Timestamp,
});

/**
 * An API key's metadata, the APIKey object (never the secret, nor its hash). `kind` is
 * `account` for `mk_…` keys that manage an account and `access` for `sk_live_…` (`sk_test_…` in dev mode) keys that invoke one
 * purchased agent (`agent_id`).
 */
export const ApiKey = z.object({
  key_id: KeyId,
  kind: z.enum(["account", "access"]),
  name: z.string().nullable(),
  prefix: z.string().describe("The key's first characters, to recognise it; never enough to use it"),
  agent_id: AgentId.nullable(),
  rate_limit: z.number().int().positive().nullable().describe("Calls per minute, null for the default"),
  spend_cap_usd: UsdAmount.nullable().describe(
    "Most this access key may ever spend; null: no cap of its own",
  ),
  spent_usd: UsdAmount.nullable().describe(
    "What this access key has spent, calls in flight included; null for account keys",
  ),
  suspended_at: Timestamp.nullable().describe(
    "When fraud detection suspended this access key (its calls answer KEY_SUSPENDED until the owner reinstates it with POST /keys/{id}/reinstate); null when it is not suspended",
  ),
  suspend_reason: z.string().nullable().describe("Why the key was suspended; null when it is not"),
  expires_at: Timestamp.nullable(),
  created_at: Timestamp,
  revoked_at: Timestamp.nullable(),
});

/** `POST /accounts` answer: the account and its first account key, shown this once. */
export const CreateAccountResponse = z.object({
  account_id: AccountId,
  name: z.string(),
  email: z.string().nullable(),
  created_at: Timestamp,
  api_key: z.string().describe("The account key (mk_…). Shown once: store it now."),
  key: ApiKey,
});

/** `POST /keys`: a new account key. */
export const CreateKeyRequest = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  expires_at: Timestamp.optional().describe("When the key stops working; must be in the future"),
});

/** A key with its secret: the answer of `POST /keys` and `POST /keys/{id}/rotate`, shown once. */
export const CreatedKey = ApiKey.extend({
  api_key: z.string().describe("The secret key. Shown once: store it now."),
});

/** `GET /keys`. */
export const KeyList = z.object({ data: z.array(ApiKey) });
