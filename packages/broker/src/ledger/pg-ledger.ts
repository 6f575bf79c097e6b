import { isMercatoError, splitCharge } from "@mercato/protocol";
import { type PgDb, retrying } from "../platform/db/pg-db.js";
import { createPgSigningKeys } from "../signing/pg-signing-keys.js";
import {
  assertAmount,
  assertCallerId,
  checkHold,
  dayOf,
  HOLD_REFUSAL_CODES,
  type HoldRefusalCode,
  holdRefusal,
  monthOf,
  RESOLUTION_REFUSAL_CODES,
  type ResolutionRefusalCode,
  resolutionRefusal,
} from "./ledger-rules.js";
import { createPgLedgerContext, type PgLedgerContext } from "./pg-ledger-context.js";
import { pgBalances, pgChargeReads, pgSettlements, pgTopups } from "./pg-money.js";
import type { ChargeRecord, LedgerAdapter, LedgerStore } from "./port.js";
import { type ChargeRow, type FundsRow, placedCharge, type TransferRow, toCharge } from "./rows.js";
import {
  creditTransfer,
  expiryIdOf,
  feeIdOf,
  replayedCharge,
  sameHold,
  sameResolution,
} from "./transfers.js";

/**
 * What `ledger_hold` answers (see pg-refusal-codes.ts): how it went (placed, taken, or the refusal
 * code of ledger-rules.ts), and the figures it checked (none for a wallet that does not exist).
 */
type HoldOutcome = { outcome: "placed" | "taken" | HoldRefusalCode } & (
  | FundsRow
  | { [K in keyof FundsRow]: null }
);

/**
 * What `ledger_resolve` answers: how it went (done, taken, or the refusal code), and the charge
 * (after, when done; as it was, when refused).
 */
interface ResolveOutcome {
  outcome: "done" | "taken" | ResolutionRefusalCode;
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
 * A hold, a capture and a void are one statement each: a call of a function of pg-schema.ts (as
 * replaced by pg-refusal-codes.ts), its own transaction, so a charge costs two round trips. The
 * function decides, by the rules of ledger-rules.ts, and moves the money; a refusal comes back as
 * its result code, which becomes its error here. Replays and conflicts are answered here from the
 * transfer that holds the id. Everything else (pg-money.ts) is a short transaction or one statement.
 */
export function createPgLedger(db: PgDb): LedgerAdapter {
  const ctx = createPgLedgerContext(db);
  return {
    ...pgCharges(ctx),
    ...pgChargeReads(ctx),
    ...pgBalances(ctx),
    ...pgTopups(ctx),
    ...pgSettlements(ctx),
    ...createPgSigningKeys(db),
  };
}

/** Credits, holds, captures, voids, and the sweep that expires holds. */
function pgCharges({
  db,
  getTransfer,
  getChargeRow,
  onAccount,
  postOnce,
}: PgLedgerContext): Pick<LedgerStore, "credit" | "hold" | "capture" | "voidHold" | "expireHolds"> {
  /**
   * Calls one of the write functions (one statement, its own transaction; a deadlock is retried),
   * with a taken transfer id as "taken".
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
  /** The transfer that holds an id a write function found taken. */
  const takenBy = async (id: string): Promise<TransferRow> => {
    const existing = await getTransfer(db, id);
    if (!existing) throw new Error(`Transfer id ${id} was taken, yet no transfer has it`);
    return existing;
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
    const { charge } = row as ResolveOutcome;
    const outcome = row.outcome as Exclude<ResolveOutcome["outcome"], "taken">;
    if (outcome === "done" && charge) return { charge: toCharge(charge), done: true };
    if (!RESOLUTION_REFUSAL_CODES.includes(outcome as ResolutionRefusalCode)) {
      throw new Error(`ledger_resolve answered ${outcome} to ${kind} ${id} of ${holdId}`);
    }
    throw resolutionRefusal(outcome as ResolutionRefusalCode, charge ?? undefined, {
      holdId,
      transferId: id,
      amount: amount ?? undefined,
    });
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
      if (!HOLD_REFUSAL_CODES.includes(row.outcome)) {
        throw new Error(`ledger_hold answered ${row.outcome} to hold ${id}`);
      }
      throw holdRefusal(row.outcome, funds.available === null ? undefined : (funds as FundsRow), amount, {
        key: keyCap === null ? undefined : { id: keyId as string, cap: keyCap },
        dailyCap,
      });
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
  };
}
