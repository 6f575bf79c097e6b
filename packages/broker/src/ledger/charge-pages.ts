import { MercatoError } from "@mercato/protocol";
import type { ChargeRecord } from "./port.js";
import { type ChargeRow, toCharge } from "./rows.js";

// How an account's charges are paged, newest first, on both engines.

/**
 * The statement of one page of an account's charges, newest first: as buyer, as seller, or either.
 * `param(n)` writes the n-th parameter (`?` or `$n`); the parameters are the account id, with a
 * cursor its position (created_at, id), then the page size plus one, once per side, and for either
 * side the page size plus one again. Each side walks its index from the cursor down and stops after
 * a page; "either" merges the two pages (UNION drops a charge an account paid itself) instead of
 * sorting all the account's charges.
 */
export function chargePageQuery(
  role: "buyer" | "seller" | undefined,
  withCursor: boolean,
  param: (n: number) => string,
): string {
  let n = 0;
  const side = (column: string) =>
    `SELECT * FROM charges WHERE ${column} = ${param(++n)}${withCursor ? ` AND (created_at, id) < (${param(++n)}, ${param(++n)})` : ""}
     ORDER BY created_at DESC, id DESC LIMIT ${param(++n)}`;
  if (role !== undefined) return side(role === "buyer" ? "buyer_id" : "seller_account_id");
  const buyer = side("buyer_id");
  const seller = side("seller_account_id");
  return `SELECT * FROM (${buyer}) AS b UNION SELECT * FROM (${seller}) AS s
          ORDER BY created_at DESC, id DESC LIMIT ${param(++n)}`;
}

/** A page of charges from the rows {@link chargePageQuery} read (one more than the page: is there more?). */
export function toChargePage(
  rows: ChargeRow[],
  limit: number,
): { charges: ChargeRecord[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    charges: page.map(toCharge),
    nextCursor: rows.length > limit && last ? encodeChargeCursor(last.created_at, last.id) : null,
  };
}

/** Encodes the position of a charge in an account's list (newest first) as an opaque cursor. */
export function encodeChargeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

/**
 * Decodes a cursor made by {@link encodeChargeCursor}.
 *
 * @throws MercatoError `VALIDATION_ERROR` for a cursor that is not a `next_cursor` of this list.
 */
export function decodeChargeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && typeof parsed[0] === "string" && typeof parsed[1] === "string") {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new MercatoError("VALIDATION_ERROR", "cursor is not a next_cursor of this list", {
    details: { issues: [{ path: "cursor", message: "invalid cursor" }] },
  });
}

/** The parameters of {@link chargePageQuery}, in its order. */
export function chargePageParams(
  accountId: string,
  role: "buyer" | "seller" | undefined,
  position: { createdAt: string; id: string } | undefined,
  limit: number,
): unknown[] {
  const side = [accountId, ...(position ? [position.createdAt, position.id] : []), limit + 1];
  return role === undefined ? [...side, ...side, limit + 1] : side;
}
