import type Database from "better-sqlite3";

/**
 * Migration 4: access keys' own spend caps, and what each key has spent.
 *
 * `key_spend` has one row per key that ever held money: `pending` (its holds in flight) and
 * `captured` (its completed charges) follow the key's charges exactly, and the audit checks them
 * against the charges; `carried` is what a rotated key had spent when it was replaced, taken over
 * by its replacement (`carried_from`), so that rotating a key does not reset its cap. A key's
 * spending is `carried + pending + captured`. Charges hold key ids without a foreign key (a key may
 * be deleted, tests use made-up ones), and so does this table. Existing charges are counted in.
 */
export const KEY_SPEND_MIGRATION = {
  version: 4,
  name: "access keys' spend caps and spending",
  sql: `
    ALTER TABLE api_keys ADD COLUMN spend_cap INTEGER CHECK (spend_cap >= 0);

    CREATE TABLE key_spend (
      key_id TEXT PRIMARY KEY,
      pending INTEGER NOT NULL DEFAULT 0,
      captured INTEGER NOT NULL DEFAULT 0,
      carried INTEGER NOT NULL DEFAULT 0 CHECK (carried >= 0),
      carried_from TEXT
    ) STRICT, WITHOUT ROWID;
    INSERT INTO key_spend (key_id, pending, captured)
      SELECT key_id,
             SUM(CASE WHEN status = 'pending' THEN held ELSE 0 END),
             SUM(CASE WHEN status = 'completed' THEN captured ELSE 0 END)
      FROM charges WHERE key_id IS NOT NULL GROUP BY key_id;
  `,
} as const;

type Prepare = (sql: string) => Database.Statement;

/**
 * Starts `newId`'s spending at `oldId`'s (carried, in flight and captured), inside the caller's
 * transaction. Correct only between ledger batches, where `key_spend` is exact: the ledger writes
 * its in-memory sums just before each batch commits, and a batch runs without yielding, so any
 * other synchronous transaction sees no batch half done.
 */
export function carryKeySpend(prepare: Prepare, oldId: string, newId: string): void {
  const spent = prepare("SELECT carried + pending + captured FROM key_spend WHERE key_id = ?")
    .pluck()
    .get(oldId) as number | undefined;
  if (spent === undefined || spent === 0) return;
  prepare(
    `INSERT INTO key_spend (key_id, carried, carried_from) VALUES (?, ?, ?)
     ON CONFLICT (key_id) DO UPDATE SET carried = excluded.carried, carried_from = excluded.carried_from`,
  ).run(newId, spent, oldId);
}
