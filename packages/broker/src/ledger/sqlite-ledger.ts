import type Database from "better-sqlite3";
import type { WalSync } from "../platform/db/wal-sync.js";
import { createSqliteSigningKeys } from "../signing/sqlite-signing-keys.js";
import { chargePageParams, chargePageQuery, decodeChargeCursor, toChargePage } from "./charge-pages.js";
import { ledgerAudit } from "./ledger-audit.js";
import type { LedgerAdapter, LedgerStore } from "./port.js";
import { type ChargeRow, toCharge } from "./rows.js";
import { sqliteCharges } from "./sqlite-charges.js";
import {
  createSqliteLedgerContext,
  type Prepare,
  type SqliteLedgerContext,
} from "./sqlite-ledger-context.js";
import { sqliteBalances, sqliteSettlements, sqliteTopups } from "./sqlite-money.js";

/**
 * The ledger on SQLite. Writes go through a group-commit batcher: each runs whole or not at all
 * inside the batch's immediate transaction, so concurrent holds on a wallet see each other, and a
 * write is answered only once the batch is durable. Reads are direct.
 *
 * The hot path (hold, capture, void: sqlite-charges.ts) reads what it must check, then writes, and
 * answers from what it wrote. Its first write is the insert of the caller's transfer: when that id
 * is taken, nothing has moved yet and the request is a replay (same fields: the charge as it
 * stands) or a conflict.
 *
 * Counters (an account's debits and credits, a buyer's spending in a month, a key's spending) are
 * not updated write by write: a write's additions are kept in memory, join the batch's once the
 * write has succeeded, and are written, one statement per row, just before the commit
 * (sqlite-batch-sums.ts). Every capture would otherwise update the one platform revenue row, and a
 * charge would cost six UPDATEs. Inside a batch, writes read counters as stored plus the batch's
 * sums; between batches the rows are exact. Transfers name their accounts through foreign keys, so
 * an account's sum always has a row to land on; a key's sums are upserted (a key's first hold
 * creates its row).
 *
 * The signing keys (signing/sqlite-signing-keys.ts) are written through the same batcher. With
 * `walSync` (the store's, for a file database), batches commit without an fsync on the event loop
 * and are answered once the WAL is synced on the thread pool (platform/db/commit-batcher.ts).
 */
export function createSqliteLedger(
  db: Database.Database,
  prepare: Prepare,
  walSync?: WalSync,
): LedgerAdapter {
  const ctx = createSqliteLedgerContext(db, prepare, walSync);
  return {
    ...sqliteCharges(ctx),
    ...sqliteChargeReads(ctx),
    ...sqliteBalances(ctx),
    ...sqliteTopups(ctx),
    ...sqliteSettlements(ctx),
    ...createSqliteSigningKeys(prepare, (change) => ctx.write(change)),
  };
}

/** A charge, a page of an account's charges, and the audit. */
function sqliteChargeReads({
  db,
  prepare,
  getChargeRow,
}: SqliteLedgerContext): Pick<LedgerStore, "getCharge" | "listCharges" | "audit"> {
  return {
    async getCharge(id) {
      const row = getChargeRow(id);
      return row && toCharge(row);
    },

    async listCharges(accountId, { role, limit, cursor }) {
      const position = cursor === undefined ? undefined : decodeChargeCursor(cursor);
      const rows = prepare(chargePageQuery(role, position !== undefined, () => "?")).all(
        ...chargePageParams(accountId, role, position, limit),
      ) as ChargeRow[];
      return toChargePage(rows, limit);
    },

    async audit() {
      // One read transaction: every figure comes from the same snapshot. Rows are read as they
      // come (the charges' scan may be long); the audit reads through each result before the next.
      return db.transaction(() => {
        const steps = ledgerAudit("SELECT * FROM ledger_accounts");
        let step = steps.next();
        while (!step.done) step = steps.next(prepare(step.value).iterate());
        return step.value;
      })();
    },
  };
}
