import { splitCharge } from "@mercato/protocol";
import {
  assertAmount,
  assertCallerId,
  checkHold,
  dayOf,
  holdRefusal,
  holdRefusalCode,
  monthOf,
  resolutionRefusal,
  resolutionRefusalCode,
} from "./ledger-rules.js";
import type { CaptureRequest, ChargeRecord, HoldRequest, LedgerStore } from "./port.js";
import { type ChargeRow, type FundsRow, placedCharge, type TransferRow, toCharge } from "./rows.js";
import { spendKey } from "./sqlite-batch-sums.js";
import type { SqliteLedgerContext } from "./sqlite-ledger-context.js";
import { earningsOf, expiryIdOf, feeIdOf, REVENUE, sameHold, sameResolution, walletOf } from "./transfers.js";

/** The SQLite ledger's hot path: holds, captures, voids, and the sweep that expires holds. */
export function sqliteCharges(
  ctx: SqliteLedgerContext,
): Pick<LedgerStore, "hold" | "capture" | "voidHold" | "expireHolds"> {
  const hold = sqliteHold(ctx);
  const { capture, voidHold } = sqliteResolutions(ctx);
  return {
    // The hot path checks its input inside the write, so that a bad request rejects (like any
    // refusal, having changed nothing) without an async wrapper around every call.
    // A hold and a void need not reach the disk before they are answered: a crash that loses one
    // loses a reservation, never a charge (a capture is durable, and its commit makes every write
    // before it durable too). The buyer's money is then simply available again.
    hold(request) {
      return ctx.write(() => hold(request), { durable: false });
    },

    capture(request) {
      return ctx.write(() => {
        assertCallerId(request.id);
        assertAmount(request.amount, 1);
        return capture(request);
      });
    },

    voidHold({ id, holdId, at }) {
      return ctx.write(
        () => {
          assertCallerId(id);
          return voidHold(id, holdId, at);
        },
        { durable: false },
      );
    },

    async expireHolds(now, limit = 1000) {
      return ctx.write(() => {
        const ids = ctx.sql.expired.all(now, limit) as string[];
        for (const holdId of ids) voidHold(expiryIdOf(holdId), holdId, now);
        return ids.length;
      });
    },
  };
}

/** A hold, inside a write: checked against the wallet's figures (the batch's sums added), then placed. */
function sqliteHold({ sql, sums, getTransfer, getChargeRow, claim, replayed }: SqliteLedgerContext) {
  /** The figures a hold is checked against, as stored plus the batch's sums. */
  const readFunds = (
    request: HoldRequest,
    keyId: string | null,
    keyCap: number | null,
    dailyCap: number | null,
  ) => {
    const wallet = walletOf(request.buyerId);
    const month = monthOf(request.at);
    const day = dayOf(request.at);
    const funds = (
      keyCap === null
        ? dailyCap === null
          ? sql.funds.get(month, wallet)
          : sql.fundsWithDay.get(month, day, wallet)
        : dailyCap === null
          ? sql.fundsWithKey.get(month, keyId, wallet)
          : sql.fundsWithKeyAndDay.get(month, day, keyId, wallet)
    ) as FundsRow | undefined;
    if (funds) {
      const delta = sums.accountDelta(wallet);
      funds.available += delta.credits_posted - delta.debits_posted - delta.debits_pending;
      funds.held += delta.debits_pending;
      funds.spent = (funds.spent ?? 0) + sums.spentDelta(request.buyerId, month);
      if (keyCap !== null) {
        const key = sums.keys.get(keyId as string);
        funds.key_spent = (funds.key_spent ?? 0) + (key?.pending ?? 0) + (key?.captured ?? 0);
      }
      if (dailyCap !== null) {
        funds.spent_today =
          (funds.spent_today ?? 0) + (sums.daily.get(spendKey(request.buyerId, day))?.captured ?? 0);
      }
    }
    return funds;
  };

  return (request: HoldRequest): ChargeRecord => {
    const { id, buyerId, sellerAccountId, agentId, amount, expiresAt, at } = request;
    // Only a key with a cap of its own reads its spending; every key's hold adds to it. Likewise only
    // a hold under a daily cap reads the day's spending; every capture adds to it.
    const { keyId, keyCap, dailyCap } = checkHold(request);
    const wallet = walletOf(buyerId);
    const earnings = earningsOf(sellerAccountId);
    const isSame = (existing: TransferRow) =>
      sameHold(existing, existing.kind === "hold" ? getChargeRow(id) : undefined, request);
    const funds = readFunds(request, keyId, keyCap, dailyCap);
    const caps = { key: keyCap === null ? undefined : { id: keyId as string, cap: keyCap }, dailyCap };
    const refused = holdRefusalCode(funds, amount, caps);
    if (refused) {
      // A replay of a hold that was placed is answered even when it could not be placed now.
      const existing = getTransfer(id);
      if (existing) return { ...replayed(existing, isSame(existing), id), replayed: true };
      throw holdRefusal(refused, funds, amount, caps);
    }
    const existing = claim(
      {
        id,
        debit_account_id: wallet,
        credit_account_id: earnings,
        amount,
        kind: "hold",
        pending_id: null,
        reference: agentId,
      },
      at,
      sellerAccountId,
    );
    if (existing) return { ...replayed(existing, isSame(existing), id), replayed: true };
    sums.move(wallet, "debits_pending", amount);
    sums.move(earnings, "credits_pending", amount);
    if (keyId !== null) sums.keys.add(keyId, "pending", amount);
    sql.insertCharge.run(id, buyerId, sellerAccountId, agentId, keyId, amount, expiresAt, at);
    return placedCharge(request);
  };
}

/** Captures and voids, inside a write. */
function sqliteResolutions(ctx: SqliteLedgerContext) {
  const { sql, sums, getTransfer, getChargeRow, claim, replayed, insertTransfer } = ctx;
  /**
   * The first half of a capture or a void: refuse what cannot resolve the hold (replaying the
   * first answer when `id` was used already), then claim the resolving transfer for `requested`
   * micros (a void takes the whole hold). Returns the replayed charge, or the hold and its accounts
   * for the caller to move the money.
   */
  const beginResolution = (
    kind: "capture" | "void",
    { id, holdId, at, requested }: { id: string; holdId: string; at: string; requested?: number },
  ): { replay: ChargeRecord } | { hold: ChargeRow; wallet: string; earnings: string } => {
    const charge = getChargeRow(holdId);
    const refused = resolutionRefusalCode(charge, requested, at);
    const same = (existing: TransferRow) => sameResolution(existing, kind, holdId, requested);
    if (refused) {
      const existing = getTransfer(id);
      if (existing) return { replay: replayed(existing, same(existing), holdId) };
      throw resolutionRefusal(refused, charge, { holdId, transferId: id, amount: requested });
    }
    const hold = charge as ChargeRow;
    const wallet = walletOf(hold.buyer_id);
    const earnings = earningsOf(hold.seller_account_id);
    const existing = claim(
      {
        id,
        debit_account_id: wallet,
        credit_account_id: earnings,
        amount: requested ?? hold.held,
        kind,
        pending_id: holdId,
        reference: hold.agent_id,
      },
      at,
      hold.seller_account_id,
    );
    if (existing) return { replay: replayed(existing, same(existing), holdId) };
    return { hold, wallet, earnings };
  };

  const capture = ({ id, holdId, amount, at }: CaptureRequest): ChargeRecord => {
    const begun = beginResolution("capture", { id, holdId, at, requested: amount });
    if ("replay" in begun) return begun.replay;
    const { hold, wallet, earnings } = begun;
    const fee = Number(splitCharge(amount).fee);
    sums.move(wallet, "debits_pending", -hold.held);
    sums.move(wallet, "debits_posted", amount);
    sums.move(earnings, "credits_pending", -hold.held);
    sums.move(earnings, "credits_posted", amount);
    if (fee > 0) {
      insertTransfer(
        {
          id: feeIdOf(holdId),
          debit_account_id: earnings,
          credit_account_id: REVENUE,
          amount: fee,
          kind: "fee",
          pending_id: holdId,
          reference: hold.agent_id,
        },
        at,
      );
      sums.move(earnings, "debits_posted", fee);
      sums.move(REVENUE, "credits_posted", fee);
    }
    sums.spend.add(spendKey(hold.buyer_id, monthOf(at)), "captured", amount);
    sums.daily.add(spendKey(hold.buyer_id, dayOf(at)), "captured", amount);
    if (hold.key_id !== null) {
      sums.keys.add(hold.key_id, "pending", -hold.held);
      sums.keys.add(hold.key_id, "captured", amount);
    }
    sql.completeCharge.run(amount, fee, at, holdId);
    return toCharge({ ...hold, captured: amount, fee, status: "completed", resolved_at: at });
  };

  const voidHold = (id: string, holdId: string, at: string): ChargeRecord => {
    const begun = beginResolution("void", { id, holdId, at });
    if ("replay" in begun) return begun.replay;
    const { hold, wallet, earnings } = begun;
    sums.move(wallet, "debits_pending", -hold.held);
    sums.move(earnings, "credits_pending", -hold.held);
    if (hold.key_id !== null) sums.keys.add(hold.key_id, "pending", -hold.held);
    sql.voidCharge.run(at, holdId);
    return toCharge({ ...hold, status: "voided", resolved_at: at });
  };

  return { capture, voidHold };
}
