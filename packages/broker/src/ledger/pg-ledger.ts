import { isMercatoError, splitCharge } from "@mercato/protocol";
import { type PgDb, type PgQueryable, retrying } from "../platform/db/pg-db.js";
import { ledgerAudit } from "./ledger-audit.js";
import {
  assertAmount,
  assertCallerId,
  type ChargeRow,
  chargePageParams,
  chargePageQuery,
  checkHold,
  creditTransfer,
  dayOf,
  decodeChargeCursor,
  dueSettlements,
  EXTERNAL,
  earningsOf,
  expiryIdOf,
  type FundsRow,
  feeIdOf,
  idReused,
  monthOf,
  noAccount,
  placedCharge,
  refuseCapture,
  refuseHold,
  refuseResolution,
  replayedCharge,
  type SettlementRow,
  type SigningKeyRow,
  sameHold,
  sameResolution,
  sameTransfer,
  TOPUP_COLUMNS,
  type TopupRow,
  type TransferRow,
  toCharge,
  toChargePage,
  topupFailed,
  topupTransfer,
  topupValues,
  toSettlement,
  toSigningKey,
  toTopup,
  transferValues,
  walletOf,
} from "./ledger-rules.js";
import type { ChargeRecord, LedgerAdapter, SettlementRecord } from "./port.js";

/** The columns of a `TransferRow`. */
const TRANSFER_ROW = "id, debit_account_id, credit_account_id, amount, kind, pending_id, reference";
/** The columns of a `ChargeRow`. */
const CHARGE_COLUMNS = `id, buyer_id, seller_account_id, agent_id, key_id, held, captured, fee, status, expires_at,
  created_at, resolved_at`;

/**
 * What `ledger_hold` answers (see ledger-schema.ts): how it went, and the figures it checked (none
 * for a wallet that does not exist).
 */
type HoldOutcome = { outcome: "placed" | "refused" | "taken" } & (FundsRow | { [K in keyof FundsRow]: null });

/** What `ledger_resolve` answers: how it went, and the charge (after, when done; as it was, when refused). */
interface ResolveOutcome {
  outcome: "done" | "refused" | "taken";
  charge: ChargeRow | null;
}

/** A function's answer when its writes failed on a transfer id that is taken. */
const TAKEN = { outcome: "taken" } as const;

/**
 * Whether a write failed because its transfer id is taken: the key of `transfers`, or for a hold,
 * of `charges` (a charge has its hold's id), whichever of the two its statement met first.
 */
function idTaken(error: unknown): boolean {
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return code === "23505" && (constraint === "transfers_pkey" || constraint === "charges_pkey");
}

/**
 * The ledger on PostgreSQL, with the guarantees of the SQLite one across any number of broker
 * processes sharing the database: no overdraft and no cap passed under concurrent holds (the
 * wallet's row, and its key's, are locked while a hold is checked and placed), each hold
 * resolved once (its charge row is locked, and `transfers_resolve_once` is unique), idempotent
 * transfer ids (a unique index; a retry compares with the transfer that holds the id) and
 * exactly-once credits.
 *
 * A hold, a capture and a void are one statement each: a call of a function of ledger-schema.ts,
 * its own transaction, so a charge costs two round trips. The function decides and moves the money;
 * the answers (refusals, replays, conflicts) are built here with the SQLite ledger's rules
 * (ledger-rules.ts), from what it returns. Everything else is a short transaction or one statement.
 */
export function createPgLedger(db: PgDb): LedgerAdapter {
  const getTransfer = (q: PgQueryable, id: string) =>
    q.one<TransferRow>(`SELECT ${TRANSFER_ROW} FROM transfers WHERE id = $1`, [id]);
  const getChargeRow = (id: string) =>
    db.one<ChargeRow>(`SELECT ${CHARGE_COLUMNS} FROM charges WHERE id = $1`, [id]);
  const getTopupRow = (q: PgQueryable, id: string, lock = false) =>
    q.one<TopupRow>(`SELECT * FROM topups WHERE id = $1${lock ? " FOR NO KEY UPDATE" : ""}`, [id]);

  /**
   * Calls one of the write functions of ledger-schema.ts (one statement, its own transaction; a
   * deadlock is retried), with a taken transfer id as "taken".
   */
  const call = async <R extends object>(sql: string, values: unknown[]): Promise<R | typeof TAKEN> => {
    try {
      const row = await retrying(() => db.one<R>(sql, values));
      if (!row) throw new Error(`${sql} answered nothing`);
      return row;
    } catch (error) {
      if (idTaken(error)) return TAKEN;
      throw error;
    }
  };
  /** Runs a write, with a missing account (a foreign key) as `NOT_FOUND`. */
  const onAccount = async <T>(accountId: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (error) {
      if ((error as { code?: unknown }).code === "23503") throw noAccount(accountId, error);
      throw error;
    }
  };
  /** The transfer that holds an id a write function found taken. */
  const takenBy = async (id: string): Promise<TransferRow> => {
    const existing = await getTransfer(db, id);
    if (!existing) throw new Error(`Transfer id ${id} was taken, yet no transfer has it`);
    return existing;
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

  /**
   * Captures (`amount`) or voids (`amount` null) a hold: the charge as it is then, and whether this
   * call resolved it (a replay did not).
   */
  const resolve = async (
    kind: "capture" | "void",
    { id, holdId, amount, at }: { id: string; holdId: string; amount: number | null; at: string },
  ): Promise<{ charge: ChargeRecord; done: boolean }> => {
    const fee = amount === null ? 0 : Number(splitCharge(amount).fee);
    const row = await call<ResolveOutcome>(
      "SELECT * FROM ledger_resolve($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      [kind, id, holdId, amount, fee, feeIdOf(holdId), monthOf(at), dayOf(at), at],
    );
    if (row.outcome === "taken") {
      // The same request (a retry) is answered with the charge as it stands; another is a CONFLICT.
      const existing = await takenBy(id);
      const same = sameResolution(existing, kind, holdId, amount ?? undefined);
      return { charge: replayedCharge(existing, same ? await getChargeRow(holdId) : undefined), done: false };
    }
    const hold = row.charge ?? undefined;
    if (row.outcome === "done" && hold) return { charge: toCharge(hold), done: true };
    throw (
      refuseResolution(hold, holdId, id) ??
      (amount === null ? undefined : refuseCapture(hold as ChargeRow, amount, at)) ??
      new Error(`ledger_resolve refused ${kind} ${id} of ${holdId}, which the ledger's rules allow`)
    );
  };

  return {
    async credit(request) {
      assertCallerId(request.id);
      assertAmount(request.amount, 1);
      await retrying(() => postOnce(db, creditTransfer(request), request.at, request.accountId));
    },

    async hold(request) {
      const { keyId, keyCap, dailyCap } = checkHold(request);
      const { id, buyerId, sellerAccountId, agentId, amount, expiresAt, at } = request;
      const row = await onAccount(sellerAccountId, () =>
        call<HoldOutcome>("SELECT * FROM ledger_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", [
          id,
          buyerId,
          sellerAccountId,
          agentId,
          keyId,
          keyCap,
          dailyCap,
          amount,
          monthOf(at),
          dayOf(at),
          expiresAt,
          at,
        ]),
      );
      if (row.outcome === "placed") return placedCharge(request);
      if (row.outcome === "taken") {
        const existing = await takenBy(id);
        const charge = existing.kind === "hold" ? await getChargeRow(id) : undefined;
        return {
          ...replayedCharge(existing, sameHold(existing, charge, request) ? charge : undefined),
          replayed: true,
        };
      }
      const funds = row as HoldOutcome;
      throw (
        refuseHold(
          funds.available === null ? undefined : (funds as FundsRow),
          amount,
          keyCap === null ? undefined : { id: keyId as string, cap: keyCap },
          dailyCap,
        ) ?? new Error(`ledger_hold refused hold ${id}, which the ledger's rules allow`)
      );
    },

    async capture(request) {
      assertCallerId(request.id);
      assertAmount(request.amount, 1);
      return (await resolve("capture", request)).charge;
    },

    async voidHold(request) {
      assertCallerId(request.id);
      return (await resolve("void", { ...request, amount: null })).charge;
    },

    async expireHolds(now, limit = 1000) {
      const due = await db.query<{ id: string }>(
        "SELECT id FROM charges WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
        [now, limit],
      );
      // One transaction per hold, as a caller's void: a sweep never holds many wallets at once. A hold
      // resolved meanwhile (by its caller, or another broker's sweep) is not counted.
      let expired = 0;
      for (const { id: holdId } of due) {
        try {
          if ((await resolve("void", { id: expiryIdOf(holdId), holdId, amount: null, at: now })).done)
            expired++;
        } catch (error) {
          if (!isMercatoError(error) || error.code !== "CONFLICT") throw error;
        }
      }
      return expired;
    },

    async getCharge(id) {
      const row = await getChargeRow(id);
      return row && toCharge(row);
    },

    async listCharges(accountId, { role, limit, cursor }) {
      const position = cursor === undefined ? undefined : decodeChargeCursor(cursor);
      const rows = await db.query<ChargeRow>(
        chargePageQuery(role, position !== undefined, (n) => `$${n}`),
        chargePageParams(accountId, role, position, limit),
      );
      return toChargePage(rows, limit);
    },

    async getBalance(accountId, at) {
      const row = await db.one<{
        available: number | null;
        held: number | null;
        earnings: number | null;
        monthly_cap: number | null;
        spent: number | null;
      }>(
        `SELECT
           (SELECT w.credits_posted - w.debits_posted - w.debits_pending FROM ledger_accounts w WHERE w.id = $1) AS available,
           (SELECT w.debits_pending FROM ledger_accounts w WHERE w.id = $1) AS held,
           (SELECT e.credits_posted - e.debits_posted FROM ledger_balances e WHERE e.id = $2) AS earnings,
           (SELECT l.monthly_cap FROM spend_limits l WHERE l.account_id = $3) AS monthly_cap,
           (SELECT s.captured FROM monthly_spend s WHERE s.account_id = $3 AND s.month = $4) AS spent`,
        [walletOf(accountId), earningsOf(accountId), accountId, monthOf(at)],
      );
      return {
        accountId,
        available: row?.available ?? 0,
        held: row?.held ?? 0,
        earnings: row?.earnings ?? 0,
        monthlyCap: row?.monthly_cap ?? null,
        spentThisMonth: row?.spent ?? 0,
      };
    },

    async getKeySpend(keyIds) {
      const spent = new Map<string, number>(keyIds.map((keyId) => [keyId, 0]));
      if (keyIds.length === 0) return spent;
      const rows = await db.query<{ key_id: string; spent: number }>(
        "SELECT key_id, carried + pending + captured AS spent FROM key_spend WHERE key_id = ANY($1)",
        [keyIds],
      );
      for (const row of rows) spent.set(row.key_id, row.spent);
      return spent;
    },

    async setMonthlyCap(accountId, cap) {
      if (cap !== null) assertAmount(cap, 0);
      await onAccount(accountId, () =>
        db.run(
          `INSERT INTO spend_limits (account_id, monthly_cap) VALUES ($1, $2)
           ON CONFLICT (account_id) DO UPDATE SET monthly_cap = excluded.monthly_cap`,
          [accountId, cap],
        ),
      );
    },

    async insertTopup(topup) {
      await db.run(
        `INSERT INTO topups (${TOPUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        topupValues(topup),
      );
    },

    async getTopup(id) {
      const row = await getTopupRow(db, id);
      return row && toTopup(row);
    },

    async findTopupByProviderRef(provider, providerRef) {
      const row = await db.one<TopupRow>("SELECT * FROM topups WHERE provider = $1 AND provider_ref = $2", [
        provider,
        providerRef,
      ]);
      return row && toTopup(row);
    },

    async completeTopup(id, at) {
      // The top-up's row is locked first: concurrent completions (webhooks delivered twice, to two
      // brokers) take turns, and all but the first find it succeeded.
      return db.transaction(async (tx) => {
        const topup = await getTopupRow(tx, id, true);
        if (!topup) return undefined;
        if (topup.status === "succeeded") return { topup: toTopup(topup), credited: false };
        if (topup.status === "failed") throw topupFailed(id);
        await postOnce(tx, topupTransfer(topup), at, topup.account_id);
        await tx.run(
          "UPDATE topups SET status = 'succeeded', completed_at = $1, checkout_url = NULL WHERE id = $2",
          [at, id],
        );
        return {
          topup: toTopup({ ...topup, status: "succeeded", completed_at: at, checkout_url: null }),
          credited: true,
        };
      });
    },

    async failTopup(id, at) {
      // A completion that holds the row makes this wait, then leave a succeeded top-up alone.
      await db.run(
        "UPDATE topups SET status = 'failed', completed_at = $1 WHERE id = $2 AND status = 'pending'",
        [at, id],
      );
      const row = await getTopupRow(db, id);
      return row && toTopup(row);
    },

    async createSettlements(date, provider, at, newId, unitMicros = 1) {
      assertAmount(unitMicros, 1);
      return db.transaction(async (tx) => {
        // Each seller's earnings row is locked while it is settled, so that runs (for one date or
        // several) take turns per seller; captures pay earnings into slots and do not wait. What is
        // due is read after the locks, so a run that waited sees what the run before it settled.
        const locked = await tx.query<{ id: string }>(
          `SELECT a.id FROM ledger_accounts a
           WHERE a.id IN (
             SELECT b.id FROM ledger_balances b
             WHERE b.kind = 'earnings' AND b.credits_posted - b.debits_posted >= $2
               AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account_id = b.owner_id AND s.settlement_date = $1))
           ORDER BY a.id FOR NO KEY UPDATE`,
          [date, unitMicros],
        );
        if (locked.length === 0) return [];
        const unsettled = await tx.query<{ id: string; owner_id: string; amount: number }>(
          `SELECT b.id, b.owner_id, b.credits_posted - b.debits_posted AS amount FROM ledger_balances b
           WHERE b.id = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account_id = b.owner_id AND s.settlement_date = $2)
           ORDER BY b.id`,
          [locked.map((row) => row.id), date],
        );
        const due = dueSettlements(unsettled, { date, provider, at, newId, unitMicros });
        if (due.length === 0) return [];
        await tx.run(
          `INSERT INTO settlements (id, account_id, settlement_date, amount, provider, status, created_at)
           SELECT t.id, t.account_id, $4, t.amount, $5, 'pending', $6
           FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(id, account_id, amount)`,
          [
            due.map((d) => d.settlement.id),
            due.map((d) => d.settlement.accountId),
            due.map((d) => d.settlement.amount),
            date,
            provider,
            at,
          ],
        );
        const posted = await tx.one<{ all_posted: boolean }>(
          `SELECT bool_and(ledger_post(t.id, t.debit, $4, t.amount, 'payout', NULL, t.reference, $5)) AS all_posted
           FROM unnest($1::text[], $2::text[], $3::bigint[], $6::text[]) AS t(id, debit, amount, reference)`,
          [
            due.map((d) => d.payout.id),
            due.map((d) => d.payout.debit_account_id),
            due.map((d) => d.payout.amount),
            EXTERNAL,
            at,
            due.map((d) => d.payout.reference),
          ],
        );
        // A payout id is the settlement's, which was just inserted: it cannot be taken.
        if (!posted?.all_posted) throw new Error("A settlement's payout id was taken");
        return due.map((d): SettlementRecord => d.settlement);
      });
    },

    async listUnpaidSettlements() {
      const rows = await db.query<SettlementRow>(
        "SELECT * FROM settlements WHERE status <> 'paid' ORDER BY created_at, id",
      );
      return rows.map(toSettlement);
    },

    async updateSettlement(id, update) {
      await db.run(
        "UPDATE settlements SET status = $1, provider_ref = $2, failure = $3, paid_at = $4 WHERE id = $5",
        [update.status, update.providerRef, update.failure, update.paidAt, id],
      );
    },

    async listSettlements(accountId) {
      const rows = await db.query<SettlementRow>(
        "SELECT * FROM settlements WHERE account_id = $1 ORDER BY settlement_date DESC, id DESC",
        [accountId],
      );
      return rows.map(toSettlement);
    },

    async audit() {
      // One repeatable-read transaction: every figure comes from the same snapshot. Accounts are
      // read with their slots added.
      return db.transaction(
        async (tx) => {
          const steps = ledgerAudit("SELECT * FROM ledger_balances");
          let step = steps.next();
          while (!step.done) step = steps.next(await tx.query(step.value));
          return step.value;
        },
        { isolation: "repeatable read" },
      );
    },

    async listSigningKeys() {
      const rows = await db.query<SigningKeyRow>(
        "SELECT kid, private_jwk, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC",
      );
      return rows.map(toSigningKey);
    },

    async insertSigningKey(key) {
      await db.run(
        `INSERT INTO signing_keys (kid, private_jwk, public_jwk, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kid) DO NOTHING`,
        [key.kid, key.privateJwk, key.publicJwk, key.createdAt],
      );
    },
  };
}
