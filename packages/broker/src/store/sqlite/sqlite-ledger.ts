import { formatUsd, MercatoError, splitCharge } from "@mercato/protocol";
import type Database from "better-sqlite3";
import type {
  AuditRecord,
  ChargeRecord,
  LedgerAccountKind,
  LedgerStore,
  SettlementRecord,
  SigningKeyRecord,
  TopupRecord,
  TransferKind,
} from "../types.js";
import { createCommitBatcher } from "./commit-batcher.js";

type Prepare = (sql: string) => Database.Statement;

interface AccountRow {
  id: string;
  kind: LedgerAccountKind;
  owner_id: string | null;
  debits_pending: number;
  debits_posted: number;
  credits_pending: number;
  credits_posted: number;
}

interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: number;
  kind: TransferKind;
  pending_id: string | null;
  reference: string | null;
}

interface ChargeRow {
  id: string;
  buyer_id: string;
  seller_account_id: string;
  agent_id: string;
  key_id: string | null;
  held: number;
  captured: number;
  fee: number;
  status: ChargeRecord["status"];
  expires_at: string;
  created_at: string;
  resolved_at: string | null;
}

const REVENUE = "platform_revenue";
const EXTERNAL = "external";
const walletOf = (accountId: string) => `wallet:${accountId}`;
const earningsOf = (accountId: string) => `earnings:${accountId}`;

/**
 * The ledger on SQLite. Writes go through a group-commit batcher; reads are direct. Every write
 * runs inside one immediate transaction, so concurrent holds on a wallet see each other.
 */
export function createSqliteLedger(db: Database.Database, prepare: Prepare): LedgerStore {
  const write = createCommitBatcher(db);

  const getAccount = (id: string) =>
    prepare("SELECT * FROM ledger_accounts WHERE id = ?").get(id) as AccountRow | undefined;
  const ensureAccount = (kind: "wallet" | "earnings", ownerId: string, at: string): string => {
    const id = kind === "wallet" ? walletOf(ownerId) : earningsOf(ownerId);
    prepare("INSERT OR IGNORE INTO ledger_accounts (id, kind, owner_id, created_at) VALUES (?, ?, ?, ?)").run(
      id,
      kind,
      ownerId,
      at,
    );
    return id;
  };
  const getTransfer = (id: string) =>
    prepare("SELECT * FROM transfers WHERE id = ?").get(id) as TransferRow | undefined;
  const insertTransfer = (transfer: TransferRow, at: string): void => {
    prepare(
      `INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, reference, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      transfer.id,
      transfer.debit_account_id,
      transfer.credit_account_id,
      transfer.amount,
      transfer.kind,
      transfer.pending_id,
      transfer.reference,
      at,
    );
  };
  const move = (id: string, column: keyof AccountRow, delta: number): void => {
    prepare(`UPDATE ledger_accounts SET ${column} = ${column} + ? WHERE id = ?`).run(delta, id);
  };
  const getChargeRow = (id: string) =>
    prepare("SELECT * FROM charges WHERE id = ?").get(id) as ChargeRow | undefined;

  /** A posted transfer between two accounts, once per id. */
  const postOnce = (transfer: TransferRow, at: string): void => {
    const existing = getTransfer(transfer.id);
    if (existing) {
      if (!sameTransfer(existing, transfer)) throw idReused(transfer.id);
      return;
    }
    insertTransfer(transfer, at);
    move(transfer.debit_account_id, "debits_posted", transfer.amount);
    move(transfer.credit_account_id, "credits_posted", transfer.amount);
  };

  const resolveHold = (holdId: string, transferId: string): ChargeRow => {
    const charge = getChargeRow(holdId);
    if (!charge) throw new MercatoError("NOT_FOUND", `No hold ${holdId}`);
    if (charge.status !== "pending") {
      throw new MercatoError("CONFLICT", `Hold ${holdId} is already ${charge.status}`, {
        details: { hold_id: holdId, status: charge.status, transfer_id: transferId },
      });
    }
    return charge;
  };

  const completeTopupTx = (id: string, at: string): TopupRecord | undefined => {
    const topup = getTopupRow(id);
    if (!topup) return undefined;
    if (topup.status === "succeeded") return toTopup(topup);
    if (topup.status === "failed")
      throw new MercatoError("CONFLICT", `Top-up ${id} failed; it cannot be credited`);
    const wallet = ensureAccount("wallet", topup.account_id, at);
    postOnce(
      {
        id: `topup:${id}`,
        debit_account_id: EXTERNAL,
        credit_account_id: wallet,
        amount: topup.amount,
        kind: "topup",
        pending_id: null,
        reference: id,
      },
      at,
    );
    prepare("UPDATE topups SET status = 'succeeded', completed_at = ?, checkout_url = NULL WHERE id = ?").run(
      at,
      id,
    );
    return toTopup(getTopupRow(id) as TopupRow);
  };
  const getTopupRow = (id: string) =>
    prepare("SELECT * FROM topups WHERE id = ?").get(id) as TopupRow | undefined;

  const voidTx = (id: string, holdId: string, at: string): ChargeRecord => {
    const existing = getTransfer(id);
    if (existing) {
      if (existing.kind !== "void" || existing.pending_id !== holdId) throw idReused(id);
      return toCharge(getChargeRow(holdId) as ChargeRow);
    }
    const charge = resolveHold(holdId, id);
    const wallet = walletOf(charge.buyer_id);
    const earnings = earningsOf(charge.seller_account_id);
    insertTransfer(
      {
        id,
        debit_account_id: wallet,
        credit_account_id: earnings,
        amount: charge.held,
        kind: "void",
        pending_id: holdId,
        reference: charge.agent_id,
      },
      at,
    );
    move(wallet, "debits_pending", -charge.held);
    move(earnings, "credits_pending", -charge.held);
    prepare("UPDATE charges SET status = 'voided', resolved_at = ? WHERE id = ?").run(at, holdId);
    return toCharge(getChargeRow(holdId) as ChargeRow);
  };

  return {
    credit({ id, accountId, amount, reference, at }) {
      assertAmount(amount, 1);
      return write(() => {
        const wallet = ensureAccount("wallet", accountId, at);
        postOnce(
          {
            id,
            debit_account_id: EXTERNAL,
            credit_account_id: wallet,
            amount,
            kind: "topup",
            pending_id: null,
            reference,
          },
          at,
        );
      });
    },

    hold(request) {
      assertAmount(request.amount, 1);
      return write(() => {
        const existing = getTransfer(request.id);
        if (existing) {
          const charge = getChargeRow(request.id);
          if (
            existing.kind !== "hold" ||
            !charge ||
            charge.buyer_id !== request.buyerId ||
            charge.seller_account_id !== request.sellerAccountId ||
            charge.agent_id !== request.agentId ||
            charge.held !== request.amount
          ) {
            throw idReused(request.id);
          }
          return toCharge(charge);
        }
        const wallet = ensureAccount("wallet", request.buyerId, request.at);
        const earnings = ensureAccount("earnings", request.sellerAccountId, request.at);
        const account = getAccount(wallet) as AccountRow;
        const available = account.credits_posted - account.debits_posted - account.debits_pending;
        if (available < request.amount) {
          throw new MercatoError(
            "INSUFFICIENT_FUNDS",
            "The wallet's available balance does not cover this call",
            {
              details: { available_usd: formatUsd(available), required_usd: formatUsd(request.amount) },
            },
          );
        }
        const cap = monthlyCap(request.buyerId);
        if (cap !== null) {
          const spent = spentIn(request.buyerId, monthOf(request.at));
          if (spent + account.debits_pending + request.amount > cap) {
            throw new MercatoError(
              "SPEND_CAP_EXCEEDED",
              "This call would pass the account's monthly spend cap",
              {
                details: {
                  monthly_cap_usd: formatUsd(cap),
                  spent_usd: formatUsd(spent),
                  held_usd: formatUsd(account.debits_pending),
                  required_usd: formatUsd(request.amount),
                },
              },
            );
          }
        }
        insertTransfer(
          {
            id: request.id,
            debit_account_id: wallet,
            credit_account_id: earnings,
            amount: request.amount,
            kind: "hold",
            pending_id: null,
            reference: request.agentId,
          },
          request.at,
        );
        move(wallet, "debits_pending", request.amount);
        move(earnings, "credits_pending", request.amount);
        prepare(
          `INSERT INTO charges (id, buyer_id, seller_account_id, agent_id, key_id, held, status, expires_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
        ).run(
          request.id,
          request.buyerId,
          request.sellerAccountId,
          request.agentId,
          request.keyId ?? null,
          request.amount,
          request.expiresAt,
          request.at,
        );
        return toCharge(getChargeRow(request.id) as ChargeRow);
      });
    },

    capture({ id, holdId, amount, at }) {
      assertAmount(amount, 1);
      return write(() => {
        const existing = getTransfer(id);
        if (existing) {
          if (existing.kind !== "capture" || existing.pending_id !== holdId || existing.amount !== amount) {
            throw idReused(id);
          }
          return toCharge(getChargeRow(holdId) as ChargeRow);
        }
        const charge = resolveHold(holdId, id);
        if (charge.expires_at <= at) {
          throw new MercatoError("CONFLICT", `Hold ${holdId} expired at ${charge.expires_at}`, {
            details: { hold_id: holdId, status: "expired" },
          });
        }
        if (amount > charge.held) {
          throw new MercatoError(
            "VALIDATION_ERROR",
            `Cannot capture more than the ${formatUsd(charge.held)} USD held`,
            {
              details: { held_usd: formatUsd(charge.held), amount_usd: formatUsd(amount) },
            },
          );
        }
        const { fee } = splitCharge(amount);
        const feeMicros = Number(fee);
        const wallet = walletOf(charge.buyer_id);
        const earnings = earningsOf(charge.seller_account_id);
        insertTransfer(
          {
            id,
            debit_account_id: wallet,
            credit_account_id: earnings,
            amount,
            kind: "capture",
            pending_id: holdId,
            reference: charge.agent_id,
          },
          at,
        );
        prepare(
          `UPDATE ledger_accounts SET debits_pending = debits_pending - ?, debits_posted = debits_posted + ? WHERE id = ?`,
        ).run(charge.held, amount, wallet);
        prepare(
          `UPDATE ledger_accounts SET credits_pending = credits_pending - ?, credits_posted = credits_posted + ?,
             debits_posted = debits_posted + ? WHERE id = ?`,
        ).run(charge.held, amount, feeMicros, earnings);
        if (feeMicros > 0) {
          insertTransfer(
            {
              id: `${id}:fee`,
              debit_account_id: earnings,
              credit_account_id: REVENUE,
              amount: feeMicros,
              kind: "fee",
              pending_id: holdId,
              reference: charge.agent_id,
            },
            at,
          );
          move(REVENUE, "credits_posted", feeMicros);
        }
        prepare(
          `INSERT INTO monthly_spend (account_id, month, captured) VALUES (?, ?, ?)
           ON CONFLICT (account_id, month) DO UPDATE SET captured = captured + excluded.captured`,
        ).run(charge.buyer_id, monthOf(at), amount);
        prepare(
          "UPDATE charges SET captured = ?, fee = ?, status = 'completed', resolved_at = ? WHERE id = ?",
        ).run(amount, feeMicros, at, holdId);
        return toCharge(getChargeRow(holdId) as ChargeRow);
      });
    },

    voidHold({ id, holdId, at }) {
      return write(() => voidTx(id, holdId, at));
    },

    expireHolds(now, limit = 1000) {
      return write(() => {
        const ids = prepare(
          "SELECT id FROM charges WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
        )
          .pluck()
          .all(now, limit) as string[];
        for (const holdId of ids) voidTx(`${holdId}:expired`, holdId, now);
        return ids.length;
      });
    },

    async getCharge(id) {
      const row = getChargeRow(id);
      return row && toCharge(row);
    },

    async listCharges(accountId, { role, limit, cursor }) {
      const where =
        role === "buyer"
          ? "buyer_id = ?"
          : role === "seller"
            ? "seller_account_id = ?"
            : "(buyer_id = ? OR seller_account_id = ?)";
      const params: unknown[] = role === undefined ? [accountId, accountId] : [accountId];
      let after = "";
      if (cursor !== undefined) {
        const position = decodeChargeCursor(cursor);
        after = "AND (created_at < ? OR (created_at = ? AND id < ?))";
        params.push(position.createdAt, position.createdAt, position.id);
      }
      const rows = prepare(
        `SELECT * FROM charges WHERE ${where} ${after} ORDER BY created_at DESC, id DESC LIMIT ?`,
      ).all(...params, limit + 1) as ChargeRow[];
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        charges: page.map(toCharge),
        nextCursor: rows.length > limit && last ? encodeChargeCursor(last.created_at, last.id) : null,
      };
    },

    async getBalance(accountId, at) {
      const wallet = getAccount(walletOf(accountId));
      const earnings = getAccount(earningsOf(accountId));
      return {
        accountId,
        available: wallet ? wallet.credits_posted - wallet.debits_posted - wallet.debits_pending : 0,
        held: wallet?.debits_pending ?? 0,
        earnings: earnings ? earnings.credits_posted - earnings.debits_posted : 0,
        monthlyCap: monthlyCap(accountId),
        spentThisMonth: spentIn(accountId, monthOf(at)),
      };
    },

    async setMonthlyCap(accountId, cap) {
      if (cap !== null) assertAmount(cap, 0);
      await write(() => {
        prepare(
          `INSERT INTO spend_limits (account_id, monthly_cap) VALUES (?, ?)
           ON CONFLICT (account_id) DO UPDATE SET monthly_cap = excluded.monthly_cap`,
        ).run(accountId, cap);
      });
    },

    async insertTopup(topup) {
      await write(() => {
        prepare(
          `INSERT INTO topups (id, account_id, amount, provider, provider_ref, checkout_url, status, created_at, completed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          topup.id,
          topup.accountId,
          topup.amount,
          topup.provider,
          topup.providerRef,
          topup.checkoutUrl,
          topup.status,
          topup.createdAt,
          topup.completedAt,
        );
      });
    },

    async getTopup(id) {
      const row = getTopupRow(id);
      return row && toTopup(row);
    },

    async findTopupByProviderRef(provider, providerRef) {
      const row = prepare("SELECT * FROM topups WHERE provider = ? AND provider_ref = ?").get(
        provider,
        providerRef,
      ) as TopupRow | undefined;
      return row && toTopup(row);
    },

    completeTopup(id, at) {
      return write(() => completeTopupTx(id, at));
    },

    failTopup(id, at) {
      return write(() => {
        prepare(
          "UPDATE topups SET status = 'failed', completed_at = ? WHERE id = ? AND status = 'pending'",
        ).run(at, id);
        const row = getTopupRow(id);
        return row && toTopup(row);
      });
    },

    createSettlements(date, provider, at, newId) {
      return write(() => {
        const due = prepare(
          `SELECT a.id, a.owner_id, a.credits_posted - a.debits_posted AS amount FROM ledger_accounts a
           WHERE a.kind = 'earnings' AND a.credits_posted - a.debits_posted > 0
             AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account_id = a.owner_id AND s.settlement_date = ?)
           ORDER BY a.id`,
        ).all(date) as Array<{ id: string; owner_id: string; amount: number }>;
        const created: SettlementRecord[] = [];
        for (const row of due) {
          const settlement: SettlementRecord = {
            id: newId(),
            accountId: row.owner_id,
            settlementDate: date,
            amount: row.amount,
            provider,
            providerRef: null,
            status: "pending",
            failure: null,
            createdAt: at,
            paidAt: null,
          };
          prepare(
            `INSERT INTO settlements (id, account_id, settlement_date, amount, provider, status, created_at)
             VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
          ).run(settlement.id, settlement.accountId, date, settlement.amount, provider, at);
          postOnce(
            {
              id: `payout:${settlement.id}`,
              debit_account_id: row.id,
              credit_account_id: EXTERNAL,
              amount: row.amount,
              kind: "payout",
              pending_id: null,
              reference: settlement.id,
            },
            at,
          );
          created.push(settlement);
        }
        return created;
      });
    },

    async listUnpaidSettlements() {
      return (
        prepare(
          "SELECT * FROM settlements WHERE status <> 'paid' ORDER BY created_at, id",
        ).all() as SettlementRow[]
      ).map(toSettlement);
    },

    async updateSettlement(id, update) {
      await write(() => {
        prepare(
          "UPDATE settlements SET status = ?, provider_ref = ?, failure = ?, paid_at = ? WHERE id = ?",
        ).run(update.status, update.providerRef, update.failure, update.paidAt, id);
      });
    },

    async listSettlements(accountId) {
      return (
        prepare("SELECT * FROM settlements WHERE account_id = ? ORDER BY settlement_date DESC, id DESC").all(
          accountId,
        ) as SettlementRow[]
      ).map(toSettlement);
    },

    async audit() {
      return db.transaction(() => auditLedger(prepare))();
    },

    async listSigningKeys() {
      return (
        prepare(
          "SELECT kid, private_jwk, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC",
        ).all() as Array<{
          kid: string;
          private_jwk: string;
          public_jwk: string;
          created_at: string;
        }>
      ).map(
        (row): SigningKeyRecord => ({
          kid: row.kid,
          privateJwk: row.private_jwk,
          publicJwk: row.public_jwk,
          createdAt: row.created_at,
        }),
      );
    },

    async insertSigningKey(key) {
      await write(() => {
        prepare(
          "INSERT OR IGNORE INTO signing_keys (kid, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?)",
        ).run(key.kid, key.privateJwk, key.publicJwk, key.createdAt);
      });
    },
  };

  function monthlyCap(accountId: string): number | null {
    const row = prepare("SELECT monthly_cap FROM spend_limits WHERE account_id = ?").get(accountId) as
      | { monthly_cap: number | null }
      | undefined;
    return row?.monthly_cap ?? null;
  }

  function spentIn(accountId: string, month: string): number {
    const row = prepare("SELECT captured FROM monthly_spend WHERE account_id = ? AND month = ?").get(
      accountId,
      month,
    ) as { captured: number } | undefined;
    return row?.captured ?? 0;
  }
}

/** Every invariant of DESIGN.md's ledger, checked from the transfers up. */
function auditLedger(prepare: Prepare): AuditRecord {
  const violations: AuditRecord["violations"] = [];
  const accounts = prepare("SELECT * FROM ledger_accounts").all() as AccountRow[];
  const transfers = prepare("SELECT COUNT(*) FROM transfers").pluck().get() as number;

  // Each account's counters equal the sums of its transfers.
  const recomputed = new Map<string, { dp: number; dq: number; cp: number; cq: number }>();
  const at = (id: string) => {
    let entry = recomputed.get(id);
    if (!entry) {
      entry = { dp: 0, dq: 0, cp: 0, cq: 0 };
      recomputed.set(id, entry);
    }
    return entry;
  };
  for (const row of prepare(
    `SELECT debit_account_id AS d, credit_account_id AS c, SUM(amount) AS total FROM transfers
     WHERE kind NOT IN ('hold', 'void') GROUP BY d, c`,
  ).all() as Array<{ d: string; c: string; total: number }>) {
    at(row.d).dp += row.total;
    at(row.c).cp += row.total;
  }
  for (const row of prepare(
    `SELECT h.debit_account_id AS d, h.credit_account_id AS c, SUM(h.amount) AS total FROM transfers h
     WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id AND r.kind IN ('capture', 'void'))
     GROUP BY d, c`,
  ).all() as Array<{ d: string; c: string; total: number }>) {
    at(row.d).dq += row.total;
    at(row.c).cq += row.total;
  }
  let net = 0;
  let pendingDebits = 0;
  let pendingCredits = 0;
  const totals = { toppedUp: 0, paidOut: 0, wallets: 0, held: 0, earnings: 0, revenue: 0 };
  for (const account of accounts) {
    const expected = recomputed.get(account.id) ?? { dp: 0, dq: 0, cp: 0, cq: 0 };
    if (
      expected.dp !== account.debits_posted ||
      expected.dq !== account.debits_pending ||
      expected.cp !== account.credits_posted ||
      expected.cq !== account.credits_pending
    ) {
      violations.push({
        rule: "balance-equals-transfers",
        detail: `${account.id}: stored ${JSON.stringify([account.debits_pending, account.debits_posted, account.credits_pending, account.credits_posted])}, transfers say ${JSON.stringify([expected.dq, expected.dp, expected.cq, expected.cp])}`,
      });
    }
    const balance = account.credits_posted - account.debits_posted;
    net += balance;
    pendingDebits += account.debits_pending;
    pendingCredits += account.credits_pending;
    if (account.kind === "wallet") {
      totals.wallets += balance;
      totals.held += account.debits_pending;
      if (account.debits_pending + account.debits_posted > account.credits_posted) {
        violations.push({
          rule: "wallet-not-negative",
          detail: `${account.id} is overdrawn by ${account.debits_pending + account.debits_posted - account.credits_posted} micros`,
        });
      }
    } else if (account.kind === "earnings") {
      totals.earnings += balance;
      if (balance < 0)
        violations.push({ rule: "earnings-not-negative", detail: `${account.id} is at ${balance} micros` });
    } else if (account.kind === "platform_revenue") {
      totals.revenue += balance;
    }
  }
  if (net !== 0)
    violations.push({ rule: "sum-of-balances-is-zero", detail: `all balances add up to ${net} micros` });
  if (pendingDebits !== pendingCredits) {
    violations.push({
      rule: "pending-debits-equal-credits",
      detail: `${pendingDebits} pending debits, ${pendingCredits} pending credits`,
    });
  }

  totals.toppedUp = prepare("SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE kind = 'topup'")
    .pluck()
    .get() as number;
  totals.paidOut = prepare("SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE kind = 'payout'")
    .pluck()
    .get() as number;
  const refunded = prepare("SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE kind = 'refund'")
    .pluck()
    .get() as number;
  if (totals.toppedUp - totals.paidOut - refunded !== totals.wallets + totals.earnings + totals.revenue) {
    violations.push({
      rule: "money-in-equals-money-held",
      detail: `top-ups ${totals.toppedUp} − payouts ${totals.paidOut} − refunds ${refunded} ≠ wallets ${totals.wallets} + earnings ${totals.earnings} + revenue ${totals.revenue}`,
    });
  }

  for (const row of prepare(
    `SELECT pending_id, COUNT(*) AS n FROM transfers WHERE kind IN ('capture', 'void') GROUP BY pending_id HAVING n > 1`,
  ).all() as Array<{ pending_id: string; n: number }>) {
    violations.push({ rule: "hold-resolved-once", detail: `${row.pending_id} resolved ${row.n} times` });
  }

  // Charges agree with their transfers: capture ≤ hold, fee = floor(10%), status matches.
  for (const row of prepare(
    `SELECT c.id, c.held, c.captured, c.fee, c.status, h.amount AS hold_amount, r.kind AS resolution,
            r.amount AS resolved_amount, f.amount AS fee_amount
     FROM charges c
     LEFT JOIN transfers h ON h.id = c.id AND h.kind = 'hold'
     LEFT JOIN transfers r ON r.pending_id = c.id AND r.kind IN ('capture', 'void')
     LEFT JOIN transfers f ON f.pending_id = c.id AND f.kind = 'fee'`,
  ).all() as Array<{
    id: string;
    held: number;
    captured: number;
    fee: number;
    status: string;
    hold_amount: number | null;
    resolution: string | null;
    resolved_amount: number | null;
    fee_amount: number | null;
  }>) {
    const problem =
      row.hold_amount !== row.held
        ? "hold transfer missing or different"
        : row.status === "pending" && row.resolution !== null
          ? "resolved but still pending"
          : row.status === "completed" &&
              (row.resolution !== "capture" ||
                row.resolved_amount !== row.captured ||
                row.captured > row.held)
            ? "capture does not match"
            : row.status === "completed" &&
                (row.fee !== Number(splitCharge(row.captured).fee) || (row.fee_amount ?? 0) !== row.fee)
              ? "fee is not floor(10%) of the charge"
              : row.status === "voided" && (row.resolution !== "void" || row.captured !== 0)
                ? "void does not match"
                : undefined;
    if (problem) violations.push({ rule: "charge-matches-transfers", detail: `${row.id}: ${problem}` });
  }

  return { ok: violations.length === 0, accounts: accounts.length, transfers, totals, violations };
}

interface TopupRow {
  id: string;
  account_id: string;
  amount: number;
  provider: string;
  provider_ref: string | null;
  checkout_url: string | null;
  status: TopupRecord["status"];
  created_at: string;
  completed_at: string | null;
}

interface SettlementRow {
  id: string;
  account_id: string;
  settlement_date: string;
  amount: number;
  provider: string;
  provider_ref: string | null;
  status: SettlementRecord["status"];
  failure: string | null;
  created_at: string;
  paid_at: string | null;
}

function toCharge(row: ChargeRow): ChargeRecord {
  return {
    id: row.id,
    buyerId: row.buyer_id,
    sellerAccountId: row.seller_account_id,
    agentId: row.agent_id,
    keyId: row.key_id,
    held: row.held,
    captured: row.captured,
    fee: row.fee,
    status: row.status,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    resolvedAt: row.resolved_at,
  };
}

function toTopup(row: TopupRow): TopupRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    amount: row.amount,
    provider: row.provider,
    providerRef: row.provider_ref,
    checkoutUrl: row.checkout_url,
    status: row.status,
    createdAt: row.created_at,
    completedAt: row.completed_at,
  };
}

function toSettlement(row: SettlementRow): SettlementRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    settlementDate: row.settlement_date,
    amount: row.amount,
    provider: row.provider,
    providerRef: row.provider_ref,
    status: row.status,
    failure: row.failure,
    createdAt: row.created_at,
    paidAt: row.paid_at,
  };
}

function sameTransfer(a: TransferRow, b: TransferRow): boolean {
  return (
    a.kind === b.kind &&
    a.debit_account_id === b.debit_account_id &&
    a.credit_account_id === b.credit_account_id &&
    a.amount === b.amount &&
    a.pending_id === b.pending_id
  );
}

function idReused(id: string): MercatoError {
  return new MercatoError("CONFLICT", `Transfer id ${id} was already used with other fields`, {
    details: { transfer_id: id },
  });
}

function assertAmount(amount: number, min: number): void {
  if (!Number.isSafeInteger(amount) || amount < min) {
    throw new MercatoError(
      "INVALID_AMOUNT",
      `Amount must be an integer number of micros ≥ ${min}, got ${amount}`,
    );
  }
}

/** The UTC calendar month of a timestamp, `YYYY-MM`. */
export function monthOf(timestamp: string): string {
  return timestamp.slice(0, 7);
}

function encodeChargeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

function decodeChargeCursor(cursor: string): { createdAt: string; id: string } {
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
