import { base64url, fromBase64url, utf8 } from "../encoding.js";
import { MercatoError } from "../errors/mercato-error.js";
import type { GrantPayloadValue } from "../grants/grant.js";
import { parseUsd } from "../money/money.js";
import { directError } from "./failures.js";
import { isGrantId } from "./grant-id.js";

/**
 * First line of every voucher's signing input: names the scheme and keeps vouchers apart from any
 * other signature. `v2` vouchers are prepaid (each pays for the call it comes with); a `v1` voucher
 * (paid after) never verifies as one, so it is never read with that meaning.
 */
export const VOUCHER_SCHEME = "mercato-voucher-v2";

/**
 * What a voucher promises: for grant `grantId`, the call numbered `sequence` (1, 2, 3, … per grant)
 * comes with the buyer's promise to pay `owedMicros` in all. Vouchers are **prepaid**: a call's
 * voucher owes `price × (successful calls before it + 1)`, paying for every earlier success and for
 * the call it comes with; a failed call's prepaid unit carries over to the next voucher. The
 * buyer's final voucher (its `close`) owes `price × successes`. Amounts are safe-integer micro-USD
 * (JavaScript numbers, as in the ledger).
 */
export interface VoucherClaim {
  grantId: string;
  /** Positive integer: 1 for the first call of the grant, one more for each later call. */
  sequence: number;
  /**
   * Cumulative micro-USD owed: on a call, for the successful calls before it and for this one, paid
   * up front (the first call's voucher owes the price); on the final voucher, for every success.
   */
  owedMicros: number;
}

/** A voucher as it travels: its claim and the buyer's Ed25519 signature of it (base64url). */
export interface Voucher extends VoucherClaim {
  signature: string;
}

/** A voucher just signed, with its `Mercato-Voucher` header value. */
export interface SignedVoucher extends Voucher {
  header: string;
}

/** The fields of a `Mercato-Voucher` header; the grant id comes from the grant it is sent with. */
export type VoucherHeaderFields = Omit<Voucher, "grantId">;

/** A buyer key pair for one grant. */
export interface BuyerKeyPair {
  /** Signs the grant's vouchers; not extractable. */
  privateKey: CryptoKey;
  /** The public key as base64url of its 32 raw bytes: the grant's `buyer_public_key`. */
  publicKey: string;
}

const ED25519 = { name: "Ed25519" } as const;
const HEADER = /^seq=([1-9]\d{0,15});owed=(0|[1-9]\d{0,15});sig=([A-Za-z0-9_-]{85}[AQgw])$/;

/**
 * The exact string a voucher signs, UTF-8, one field a line, integers in decimal:
 * `mercato-voucher-v2\n{grant_id}\n{sequence}\n{owed_micros}`.
 *
 * @throws MercatoError `VALIDATION_ERROR` when the grant id is not a `grt_…` id, the sequence not a
 *   positive safe integer, or the amount not a non-negative safe integer.
 */
export function voucherSigningInput(claim: VoucherClaim): string {
  if (!isGrantId(claim.grantId)) {
    throw new MercatoError("VALIDATION_ERROR", `A voucher needs a grt_… grant id, not ${claim.grantId}`);
  }
  if (!Number.isSafeInteger(claim.sequence) || claim.sequence < 1) {
    throw new MercatoError("VALIDATION_ERROR", `A voucher's sequence must be a positive integer`);
  }
  if (!Number.isSafeInteger(claim.owedMicros) || claim.owedMicros < 0) {
    throw new MercatoError("VALIDATION_ERROR", `A voucher's amount must be a non-negative integer of micros`);
  }
  return `${VOUCHER_SCHEME}\n${claim.grantId}\n${claim.sequence}\n${claim.owedMicros}`;
}

/**
 * Generates the Ed25519 key pair of one grant (WebCrypto). The private key stays in memory and
 * is not extractable; the public key goes into `POST /grants` as `buyer_public_key`.
 */
export async function generateBuyerKeyPair(): Promise<BuyerKeyPair> {
  const pair = (await crypto.subtle.generateKey(ED25519, false, ["sign", "verify"])) as CryptoKeyPair;
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  return { privateKey: pair.privateKey, publicKey: base64url(new Uint8Array(raw)) };
}

/**
 * Signs a voucher with the grant's buyer key and formats its `Mercato-Voucher` header.
 *
 * @throws MercatoError `VALIDATION_ERROR` for a claim {@link voucherSigningInput} refuses.
 * @example
 * // The first call of a grant pays for itself up front.
 * const voucher = await signVoucher({ grantId, sequence: 1, owedMicros: priceMicros }, keys.privateKey);
 * headers[DIRECT_HEADERS.voucher] = voucher.header;
 */
export async function signVoucher(claim: VoucherClaim, buyerPrivateKey: CryptoKey): Promise<SignedVoucher> {
  const input = utf8(voucherSigningInput(claim));
  const signature = base64url(new Uint8Array(await crypto.subtle.sign(ED25519, buyerPrivateKey, input)));
  const { grantId, sequence, owedMicros } = claim;
  return {
    grantId,
    sequence,
    owedMicros,
    signature,
    header: formatVoucherHeader({ sequence, owedMicros, signature }),
  };
}

/** The `Mercato-Voucher` header value: `seq=<n>;owed=<micros>;sig=<base64url signature>`. */
export function formatVoucherHeader(voucher: VoucherHeaderFields): string {
  return `seq=${voucher.sequence};owed=${voucher.owedMicros};sig=${voucher.signature}`;
}

/**
 * Parses a `Mercato-Voucher` header. Exactly `seq=<n>;owed=<micros>;sig=<sig>` in this order, no
 * spaces, integers in decimal without leading zeros, the signature 64 bytes in canonical base64url.
 *
 * @throws MercatoError `UNAUTHENTICATED` with `details.reason` `voucher_malformed`.
 */
export function parseVoucherHeader(header: string | null | undefined): VoucherHeaderFields {
  const match = typeof header === "string" ? HEADER.exec(header.trim()) : null;
  const sequence = Number(match?.[1]);
  const owedMicros = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(sequence) || !Number.isSafeInteger(owedMicros)) {
    throw directError(
      "voucher_malformed",
      header ? "The voucher is not seq=<n>;owed=<micros>;sig=<signature>" : "The call carries no voucher",
    );
  }
  return { sequence, owedMicros, signature: match[3] as string };
}

/**
 * Verifies a voucher for a grant (already verified with `verifyGrant`): the signature must verify
 * with the grant's `buyer_public_key` over this grant's id, and the amount must fit the budget.
 * Returns the voucher bound to the grant. Whether the voucher pays enough for this call is the
 * seller's bookkeeping ({@link createGrantLedger}), not this function's. To verify many vouchers of
 * one grant, {@link createVoucherVerifier} imports the buyer's key once.
 *
 * @throws MercatoError `UNAUTHENTICATED` with `details.reason` `voucher_wrong_grant` (it names
 *   another grant), `voucher_malformed` or `voucher_bad_signature` (forged, or signed for another
 *   grant); `BUDGET_EXCEEDED` with `voucher_over_budget` when it owes more than the budget.
 */
export async function verifyVoucher(
  voucher: VoucherHeaderFields & { grantId?: string },
  grant: GrantPayloadValue,
): Promise<Voucher> {
  return createVoucherVerifier(grant)(voucher);
}

/** Verifies vouchers of one grant: see {@link createVoucherVerifier}. */
export type VoucherVerifier = (voucher: VoucherHeaderFields & { grantId?: string }) => Promise<Voucher>;

/**
 * A verifier of one grant's vouchers, with the checks of {@link verifyVoucher}: the grant's buyer
 * key is imported once, on first use, instead of on every voucher (a seller kit verifies one voucher
 * per call). A key WebCrypto refuses verifies nothing (`voucher_bad_signature`).
 *
 * @example
 * const verify = createVoucherVerifier(grant); // once per grant
 * const voucher = await verify(parseVoucherHeader(request.headers.get(DIRECT_HEADERS.voucher)));
 */
export function createVoucherVerifier(grant: GrantPayloadValue): VoucherVerifier {
  const budget = Number(parseUsd(grant.budget_usd));
  let key: Promise<CryptoKey | undefined> | undefined;
  const buyerKey = () => {
    key ??= importBuyerKey(grant.buyer_public_key);
    return key;
  };
  return async (voucher) => {
    if (voucher.grantId !== undefined && voucher.grantId !== grant.grant_id) {
      throw directError(
        "voucher_wrong_grant",
        `The voucher is for grant ${voucher.grantId}, not ${grant.grant_id}`,
      );
    }
    const claim = { grantId: grant.grant_id, sequence: voucher.sequence, owedMicros: voucher.owedMicros };
    const signature = fromBase64url(voucher.signature);
    if (
      !Number.isSafeInteger(claim.sequence) ||
      claim.sequence < 1 ||
      !Number.isSafeInteger(claim.owedMicros) ||
      claim.owedMicros < 0 ||
      signature?.length !== 64
    ) {
      throw directError("voucher_malformed", "The voucher's sequence, amount or signature is malformed");
    }
    const verifier = await buyerKey();
    if (!verifier || !(await verifyEd25519(verifier, signature, utf8(voucherSigningInput(claim))))) {
      throw directError(
        "voucher_bad_signature",
        "The voucher's signature does not verify with the grant's buyer key",
      );
    }
    if (claim.owedMicros > budget) {
      throw directError("voucher_over_budget", `The voucher owes more than the grant's budget`, {
        owed_micros: claim.owedMicros,
        budget_micros: budget,
      });
    }
    return { ...claim, signature: voucher.signature };
  };
}

/** The buyer's raw Ed25519 public key (base64url) as a WebCrypto key; undefined when refused. */
async function importBuyerKey(publicKey: string): Promise<CryptoKey | undefined> {
  const bytes = fromBase64url(publicKey);
  if (bytes?.length !== 32) return undefined;
  try {
    return await crypto.subtle.importKey("raw", bytes, ED25519, false, ["verify"]);
  } catch {
    return undefined;
  }
}

/** Ed25519 verification; a signature WebCrypto cannot check verifies nothing. */
async function verifyEd25519(
  key: CryptoKey,
  signature: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  try {
    return await crypto.subtle.verify(ED25519, key, signature, data);
  } catch {
    return false;
  }
}
