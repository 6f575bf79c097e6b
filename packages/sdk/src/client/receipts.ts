import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import type { Jwks, Receipt, ReceiptPayload } from "./types.js";

/**
 * The receipt check, loaded on first use: it parses the payload with zod (about 30 kB gzipped),
 * which a buyer that never verifies a receipt should not download.
 */
let receiptCheck: Promise<typeof import("@mercato/protocol/receipts")> | undefined;
const loadReceiptCheck = () => {
  receiptCheck ??= import("@mercato/protocol/receipts");
  return receiptCheck;
};

/** An unknown key id triggers a refetch of the broker's keys at most this often. */
export const JWKS_REFETCH_INTERVAL_MS = 30_000;

/** Options of {@link createReceiptVerifier}. */
export interface ReceiptVerifierOptions {
  /** Fetches the broker's key set (`GET /.well-known/jwks.json`). */
  loadJwks: () => Promise<Jwks>;
  /** Clock, in ms (default `Date.now`). */
  now?: () => number;
  /** Least time between two fetches of the key set (default 30 s). */
  minRefetchIntervalMs?: number;
}

/**
 * Verifies receipts offline against the broker's keys, fetched on first use and kept. A receipt
 * signed by a key the kept set lacks (the broker rotated its key) makes it fetch the set again,
 * no more often than `minRefetchIntervalMs`, so that made-up key ids cannot make it hammer the
 * broker. Concurrent verifications share one fetch; a failed fetch is tried again next time.
 */
export function createReceiptVerifier(
  options: ReceiptVerifierOptions,
): (receipt: Receipt | string) => Promise<ReceiptPayload> {
  const now = options.now ?? Date.now;
  const interval = options.minRefetchIntervalMs ?? JWKS_REFETCH_INTERVAL_MS;
  let jwks: Jwks | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<Jwks> | undefined;

  const load = (): Promise<Jwks> => {
    loading ??= options
      .loadJwks()
      .then((loaded) => {
        jwks = loaded;
        fetchedAt = now();
        return loaded;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };

  return async (receipt) => {
    let keys = jwks ?? (await load());
    const kid = keyIdOf(receipt);
    if (kid !== undefined && !keys.keys.some((key) => key.kid === kid) && now() - fetchedAt >= interval) {
      keys = await load();
    }
    const { verifyReceipt } = await loadReceiptCheck();
    try {
      return await verifyReceipt(receipt, keys);
    } catch (cause) {
      if (isMercatoError(cause)) throw cause;
      // A receipt of the wrong shape, or a key the runtime cannot import.
      throw new MercatoError("VALIDATION_ERROR", "The receipt could not be verified", { cause });
    }
  };
}

/** The `kid` in a receipt's JWS header, or `undefined` when there is none to read. */
function keyIdOf(receipt: Receipt | string): string | undefined {
  const jws = typeof receipt === "string" ? receipt : (receipt as Partial<Receipt> | null)?.jws;
  const header = typeof jws === "string" ? jws.split(".", 1)[0] : undefined;
  if (header === undefined || header === "") return undefined;
  try {
    const binary = atob(header.replace(/-/g, "+").replace(/_/g, "/"));
    const json: unknown = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
    );
    const kid = (json as { kid?: unknown } | null)?.kid;
    return typeof kid === "string" ? kid : undefined;
  } catch {
    return undefined;
  }
}
