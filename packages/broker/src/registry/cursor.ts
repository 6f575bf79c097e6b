import { MercatoError } from "@mercato/protocol";
import type { AgentSearch, AgentSearchPage, SearchSortValue } from "./port.js";
import { type AgentRow, toAgent } from "./rows.js";

/** A search order: the `agents` column, its direction, and the suffix of the indexes kept in it. */
export interface SortOrder {
  column: "cost_per_success" | "trust_score" | "price_micros" | "avg_response_time_ms";
  descending: boolean;
  index: "cps" | "trust" | "price" | "rt";
}

/** The search orders of both stores; ties go by registration order (`seq`) in every one. */
export const SORTS: Readonly<Record<SearchSortValue, SortOrder>> = {
  cost_per_success: { column: "cost_per_success", descending: false, index: "cps" },
  trust_score_desc: { column: "trust_score", descending: true, index: "trust" },
  price_asc: { column: "price_micros", descending: false, index: "price" },
  response_time_asc: { column: "avg_response_time_ms", descending: false, index: "rt" },
};

/**
 * A page of results from the rows a search found in its order: at most `limit + 1`, the one past
 * the page only telling that there is a next page, whose cursor is the page's last position.
 */
export function searchPage(rows: AgentRow[], search: AgentSearch): AgentSearchPage {
  const page = rows.slice(0, search.limit);
  const last = page.at(-1);
  const nextCursor =
    rows.length > search.limit && last
      ? encodeCursor({ sort: search.sort, value: last[SORTS[search.sort].column], seq: last.seq })
      : null;
  return { agents: page.map(toAgent), nextCursor };
}

/** A position in a sorted search: the last row's sort value and sequence number. */
export interface SearchPosition {
  sort: SearchSortValue;
  value: number;
  seq: number;
}

/** Encodes a search position as an opaque URL-safe cursor. */
export function encodeCursor(position: SearchPosition): string {
  return Buffer.from(JSON.stringify([position.sort, position.value, position.seq])).toString("base64url");
}

/**
 * Decodes a cursor made by {@link encodeCursor} for the same sort order.
 *
 * @throws MercatoError `VALIDATION_ERROR` for a cursor that is malformed or from another sort order.
 */
export function decodeCursor(cursor: string, sort: SearchSortValue): SearchPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (cause) {
    throw invalidCursor(cause);
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    parsed[0] !== sort ||
    typeof parsed[1] !== "number" ||
    !Number.isFinite(parsed[1]) ||
    !Number.isSafeInteger(parsed[2]) ||
    // Prices are whole micros: a fraction is no position of this order.
    (sort === "price_asc" && !Number.isSafeInteger(parsed[1]))
  ) {
    throw invalidCursor();
  }
  return { sort, value: parsed[1], seq: parsed[2] };
}

function invalidCursor(cause?: unknown): MercatoError {
  return new MercatoError(
    "VALIDATION_ERROR",
    "cursor is not a next_cursor of this search (with the same sort)",
    { details: { issues: [{ path: "cursor", message: "invalid cursor" }] }, cause },
  );
}
