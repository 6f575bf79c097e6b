/**
 * Test support (not part of the package): grants signed by a test broker key with protocol's
 * `signGrant`, buyer keys, and vouchers signed with protocol's `signVoucher`, as the broker and the
 * SDK make them.
 */
import {
  type BuyerKeyPair,
  DIRECT_HEADERS,
  directCallId,
  type GrantPayloadValue,
  generateBuyerKeyPair,
  signGrant,
  signVoucher,
} from "@mercato/protocol";
import { NOW, type TestBrokerKey } from "./broker-keys.js";

/** The agent the test kits serve. */
export const AGENT_ID = "agent_seller01";
/** The test grants' price: 0.02 USD a call. */
export const PRICE_MICROS = 20_000;

/** A grant signed by a test broker key, and the buyer key its vouchers are signed with. */
export interface TestGrant {
  grantId: string;
  payload: GrantPayloadValue;
  token: string;
  buyer: BuyerKeyPair;
}

let grants = 0;

/**
 * Signs a grant for {@link AGENT_ID}: 0.02 USD a call, 1 USD budget, issued a minute before `NOW`
 * and valid for an hour, with a fresh buyer key (unless `buyer` is given) and a fresh grant id.
 */
export async function testGrant(
  key: TestBrokerKey,
  overrides: Partial<GrantPayloadValue> = {},
  buyer?: BuyerKeyPair,
): Promise<TestGrant> {
  const keys = buyer ?? (await generateBuyerKeyPair());
  grants++;
  const payload: GrantPayloadValue = {
    grant_id: `grt_test${grants.toString().padStart(8, "0")}`,
    agent_id: AGENT_ID,
    buyer_id: "acct_buyer0001",
    seller_account_id: "acct_seller001",
    endpoint: "https://seller.example/agent",
    price_per_call_usd: "0.020000",
    budget_usd: "1.000000",
    issued_at: new Date(NOW - 60_000).toISOString(),
    expires_at: new Date(NOW + 3_600_000).toISOString(),
    buyer_public_key: keys.publicKey,
    issuer: "mercato-test",
    ...overrides,
  };
  const signed = await signGrant(payload, key.privateKey, key.kid);
  return { grantId: payload.grant_id, payload: signed.payload, token: signed.token, buyer: keys };
}

/** What a direct call sends: its headers and its body (`call_id` = `{grant}:{sequence}` unless given). */
export interface DirectRequest {
  headers: Record<string, string>;
  body: string;
}

/** Options of {@link directRequest}. */
export interface DirectRequestOptions {
  input?: unknown;
  timeoutMs?: number;
  callId?: string;
  /** Signs the voucher with this key instead of the grant's buyer key (a forgery). */
  signer?: CryptoKey;
}

/** The headers and body of the direct call `sequence` of `grant`, its voucher owing `owedMicros`. */
export async function directRequest(
  grant: TestGrant,
  sequence: number,
  owedMicros: number,
  options: DirectRequestOptions = {},
): Promise<DirectRequest> {
  const voucher = await signVoucher(
    { grantId: grant.grantId, sequence, owedMicros },
    options.signer ?? grant.buyer.privateKey,
  );
  return {
    headers: {
      "content-type": "application/json",
      [DIRECT_HEADERS.grant]: grant.token,
      [DIRECT_HEADERS.voucher]: voucher.header,
    },
    body: JSON.stringify({
      input: options.input ?? { symbol: "BTC" },
      call_id: options.callId ?? directCallId(grant.grantId, sequence),
      timeout_ms: options.timeoutMs ?? 5000,
    }),
  };
}
