import type { PgDb, PgQueryable } from "../platform/db/pg-db.js";
import type { ChargeRow, TransferRow } from "./rows.js";
import { idReused, noAccount, sameTransfer, transferValues } from "./transfers.js";

/** The columns of a `TransferRow`. */
const TRANSFER_ROW = "id, debit_account_id, credit_account_id, amount, kind, pending_id, reference";
/** The columns of a `ChargeRow`. */
export const CHARGE_COLUMNS = `id, buyer_id, seller_account_id, agent_id, key_id, held, captured, fee, status, expires_at,
  created_at, resolved_at`;

/** What the PostgreSQL ledger's steps share: the database and the reads and writes each makes. */
export function createPgLedgerContext(db: PgDb) {
  const getTransfer = (q: PgQueryable, id: string) =>
    q.one<TransferRow>(`SELECT ${TRANSFER_ROW} FROM transfers WHERE id = $1`, [id]);
  const getChargeRow = (id: string) =>
    db.one<ChargeRow>(`SELECT ${CHARGE_COLUMNS} FROM charges WHERE id = $1`, [id]);

  /** Runs a write, with a missing account (a foreign key) as `NOT_FOUND`. */
  const onAccount = async <T>(accountId: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (error) {
      if ((error as { code?: unknown }).code === "23503") throw noAccount(accountId, error);
      throw error;
    }
  };

  /** A posted transfer between two accounts, once per id (credits, top-ups, payouts). */
  const postOnce = async (q: PgQueryable, t: TransferRow, at: string, accountId: string): Promise<void> => {
    const row = await onAccount(accountId, () =>
      q.one<{ posted: boolean }>(
        "SELECT ledger_post($1, $2, $3, $4, $5, $6, $7, $8) AS posted",
        transferValues(t, at),
      ),
    );
    if (row?.posted) return;
    const existing = await getTransfer(q, t.id);
    if (!existing || !sameTransfer(existing, t)) throw idReused(t.id);
  };

  return { db, getTransfer, getChargeRow, onAccount, postOnce };
}

/** What the PostgreSQL ledger's steps share. */
export type PgLedgerContext = ReturnType<typeof createPgLedgerContext>;
