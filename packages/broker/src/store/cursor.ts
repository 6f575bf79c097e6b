import { MercatoError } from "@mercato/protocol";
import type { SearchSortValue } from "./types.js";

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
    !Number.isSafeInteger(parsed[2])
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
