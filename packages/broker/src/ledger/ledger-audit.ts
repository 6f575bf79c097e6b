import { splitCharge } from "@mercato/protocol";
import type { AuditRecord } from "./port.js";
import type { AccountRow, ChargeRow, KeySpendRow } from "./rows.js";
import { earningsOf, SYSTEM_ID, walletOf } from "./transfers.js";

// The ledger's audit, the same on SQLite and PostgreSQL: the same statements, the same rules.

/**
 * One read of the audit: yields its SQL (the same on SQLite and PostgreSQL) and is resumed with the
 * rows, which it reads through before its next read.
 */
function* read<R>(sql: string): Generator<string, Iterable<R>, Iterable<unknown>> {
  return (yield sql) as Iterable<R>;
}

/** The audit's reads, as a generator: {@link ledgerAudit}. */
export type AuditSteps = Generator<string, AuditRecord, Iterable<unknown>>;

/**
 * Every invariant of the ledger (balances sum to zero, each balance is the sum of its transfers, no
 * wallet is negative, no hold resolved twice, money in minus payouts is what accounts hold),
 * checked from the transfers up, in a few scans: the audit
 * of both ledgers. It does no I/O itself: it yields each statement it needs and is resumed with the
 * rows, so that SQLite runs it synchronously in one read transaction and PostgreSQL in one
 * repeatable-read transaction (every figure from one snapshot either way). `accounts` is the
 * statement that lists the ledger accounts with their four counters.
 *
 * @example
 * const steps = ledgerAudit("SELECT * FROM ledger_accounts");
 * let step = steps.next();
 * while (!step.done) step = steps.next(db.prepare(step.value).all());
 * return step.value;
 */
export function* ledgerAudit(accounts: string): AuditSteps {
  const violations: AuditRecord["violations"] = [];
  const violation = (rule: string, detail: string) => violations.push({ rule, detail });
  const accountRows = [...(yield* read<AccountRow>(accounts))];
  const [count] = yield* read<{ n: number }>("SELECT COUNT(*) AS n FROM transfers");
  const transfers = count?.n ?? 0;

  // Each account's counters equal the sums of its transfers: posted ones, and holds not yet resolved.
  const recomputed = new Map<string, { dp: number; dq: number; cp: number; cq: number }>();
  const sumsOf = (id: string) => {
    let entry = recomputed.get(id);
    if (!entry) {
      entry = { dp: 0, dq: 0, cp: 0, cq: 0 };
      recomputed.set(id, entry);
    }
    return entry;
  };
  type Sum = { d: string; c: string; total: number };
  for (const row of yield* read<Sum>(
    `SELECT debit_account_id AS d, credit_account_id AS c, CAST(SUM(amount) AS BIGINT) AS total FROM transfers
     WHERE kind NOT IN ('hold', 'void') GROUP BY debit_account_id, credit_account_id`,
  )) {
    sumsOf(row.d).dp += row.total;
    sumsOf(row.c).cp += row.total;
  }
  for (const row of yield* read<Sum>(
    `SELECT h.debit_account_id AS d, h.credit_account_id AS c, CAST(SUM(h.amount) AS BIGINT) AS total FROM transfers h
     WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id AND r.kind IN ('capture', 'void'))
     GROUP BY h.debit_account_id, h.credit_account_id`,
  )) {
    sumsOf(row.d).dq += row.total;
    sumsOf(row.c).cq += row.total;
  }
  const known = new Set(accountRows.map((account) => account.id));
  for (const id of recomputed.keys()) {
    if (!known.has(id))
      violation("transfer-accounts-exist", `transfers move money through unknown account ${id}`);
  }
  let net = 0;
  let pendingDebits = 0;
  let pendingCredits = 0;
  const totals = { toppedUp: 0, paidOut: 0, wallets: 0, held: 0, earnings: 0, revenue: 0 };
  for (const account of accountRows) {
    const expected = recomputed.get(account.id) ?? { dp: 0, dq: 0, cp: 0, cq: 0 };
    if (
      expected.dp !== account.debits_posted ||
      expected.dq !== account.debits_pending ||
      expected.cp !== account.credits_posted ||
      expected.cq !== account.credits_pending
    ) {
      violation(
        "balance-equals-transfers",
        `${account.id}: stored [debits pending, posted, credits pending, posted] ${JSON.stringify([account.debits_pending, account.debits_posted, account.credits_pending, account.credits_posted])}, transfers say ${JSON.stringify([expected.dq, expected.dp, expected.cq, expected.cp])}`,
      );
    }
    const balance = account.credits_posted - account.debits_posted;
    net += balance;
    pendingDebits += account.debits_pending;
    pendingCredits += account.credits_pending;
    if (account.kind === "wallet") {
      totals.wallets += balance;
      totals.held += account.debits_pending;
      if (account.debits_pending + account.debits_posted > account.credits_posted) {
        violation(
          "wallet-not-negative",
          `${account.id} is overdrawn by ${account.debits_pending + account.debits_posted - account.credits_posted} micros`,
        );
      }
    } else if (account.kind === "earnings") {
      totals.earnings += balance;
      if (balance < 0) violation("earnings-not-negative", `${account.id} is at ${balance} micros`);
    } else if (account.kind === "platform_revenue") {
      totals.revenue += balance;
      if (balance < 0) violation("revenue-not-negative", `${account.id} is at ${balance} micros`);
    }
  }
  if (net !== 0) violation("sum-of-balances-is-zero", `all balances add up to ${net} micros`);
  if (pendingDebits !== pendingCredits) {
    violation(
      "pending-debits-equal-credits",
      `${pendingDebits} pending debits, ${pendingCredits} pending credits`,
    );
  }

  const moved = new Map<string, number>();
  for (const row of yield* read<{ kind: string; total: number }>(
    `SELECT kind, CAST(SUM(amount) AS BIGINT) AS total FROM transfers
     WHERE kind IN ('topup', 'payout', 'refund') GROUP BY kind`,
  )) {
    moved.set(row.kind, row.total);
  }
  totals.toppedUp = moved.get("topup") ?? 0;
  totals.paidOut = moved.get("payout") ?? 0;
  const refunded = moved.get("refund") ?? 0;
  if (totals.toppedUp - totals.paidOut - refunded !== totals.wallets + totals.earnings + totals.revenue) {
    violation(
      "money-in-equals-money-held",
      `top-ups ${totals.toppedUp} − payouts ${totals.paidOut} − refunds ${refunded} ≠ wallets ${totals.wallets} + earnings ${totals.earnings} + revenue ${totals.revenue}`,
    );
  }

  for (const row of yield* read<{ pending_id: string; n: number }>(
    `SELECT pending_id, COUNT(*) AS n FROM transfers WHERE kind IN ('capture', 'void')
     GROUP BY pending_id HAVING COUNT(*) > 1`,
  )) {
    violation("hold-resolved-once", `${row.pending_id} resolved ${row.n} times`);
  }

  // Charges agree with their transfers. Fees are summed per hold in one scan (joining them charge by
  // charge would search every fee transfer for each charge).
  const fees = new Map<string, { amount: number; count: number }>();
  for (const row of yield* read<{ pending_id: string; amount: number; count: number }>(
    `SELECT pending_id, CAST(SUM(amount) AS BIGINT) AS amount, COUNT(*) AS count FROM transfers
     WHERE kind = 'fee' GROUP BY pending_id`,
  )) {
    fees.set(row.pending_id, { amount: row.amount, count: row.count });
  }
  /** Per key, from its charges: held now, captured, and everything it ever held. */
  const byKey = new Map<string, { pending: number; captured: number; held: number }>();
  for (const row of yield* read<AuditedCharge>(
    `SELECT c.*, h.kind AS hold_kind, h.amount AS hold_amount, h.debit_account_id AS hold_debit,
            h.credit_account_id AS hold_credit, r.kind AS resolution, r.amount AS resolved_amount,
            r.debit_account_id AS resolved_debit, r.credit_account_id AS resolved_credit
     FROM charges c
     LEFT JOIN transfers h ON h.id = c.id
     LEFT JOIN transfers r ON r.pending_id = c.id AND r.kind IN ('capture', 'void')`,
  )) {
    const fee = fees.get(row.id) ?? { amount: 0, count: 0 };
    fees.delete(row.id);
    if (row.key_id !== null) {
      let key = byKey.get(row.key_id);
      if (!key) {
        key = { pending: 0, captured: 0, held: 0 };
        byKey.set(row.key_id, key);
      }
      key.held += row.held;
      if (row.status === "pending") key.pending += row.held;
      else if (row.status === "completed") key.captured += row.captured;
    }
    const problem = chargeProblem(row, fee);
    if (problem) violation("charge-matches-transfers", `${row.id}: ${problem}`);
  }
  for (const holdId of fees.keys())
    violation("charge-matches-transfers", `${holdId}: a fee without a charge`);
  for (const row of yield* read<{ id: string }>(
    `SELECT h.id FROM transfers h WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.id = h.id)`,
  )) {
    violation("charge-matches-transfers", `${row.id}: a hold without a charge`);
  }

  // Each key's spending follows its charges. What a replacement took over from a rotated key was
  // that key's spending at the time: at least what the old key had carried itself, at most that
  // plus everything the old key ever held.
  const keyRows = [
    ...(yield* read<KeySpendRow>("SELECT key_id, pending, captured, carried, carried_from FROM key_spend")),
  ];
  const keyRowOf = new Map(keyRows.map((row) => [row.key_id, row]));
  for (const [keyId, charged] of byKey) {
    if (!keyRowOf.has(keyId) && (charged.pending !== 0 || charged.captured !== 0)) {
      violation(
        "key-spend-matches-charges",
        `${keyId}: no spending stored, charges say ${JSON.stringify([charged.pending, charged.captured])}`,
      );
    }
  }
  for (const row of keyRows) {
    const charged = byKey.get(row.key_id) ?? { pending: 0, captured: 0, held: 0 };
    if (row.pending !== charged.pending || row.captured !== charged.captured) {
      violation(
        "key-spend-matches-charges",
        `${row.key_id}: stored [pending, captured] ${JSON.stringify([row.pending, row.captured])}, charges say ${JSON.stringify([charged.pending, charged.captured])}`,
      );
    }
    const from = row.carried_from === null ? undefined : keyRowOf.get(row.carried_from);
    const least = from?.carried ?? 0;
    const most = row.carried_from === null ? 0 : least + (byKey.get(row.carried_from)?.held ?? 0);
    if (row.carried < least || row.carried > most) {
      violation(
        "key-spend-matches-charges",
        `${row.key_id}: carries ${row.carried} from ${row.carried_from ?? "no key"}, which could have carried ${least} to ${most}`,
      );
    }
  }

  // Each buyer's spending per UTC day (the new-account limit's) follows its captured charges, each
  // counted on the day it was captured.
  const dailyCharged = new Map<string, number>();
  for (const row of yield* read<{ buyer_id: string; day: string; total: number }>(
    `SELECT buyer_id, substr(resolved_at, 1, 10) AS day, CAST(SUM(captured) AS BIGINT) AS total FROM charges
     WHERE status = 'completed' GROUP BY buyer_id, substr(resolved_at, 1, 10)`,
  )) {
    dailyCharged.set(`${row.buyer_id} on ${row.day}`, row.total);
  }
  for (const row of yield* read<{ account_id: string; day: string; captured: number }>(
    "SELECT account_id, day, captured FROM daily_spend",
  )) {
    const subject = `${row.account_id} on ${row.day}`;
    const charged = dailyCharged.get(subject) ?? 0;
    dailyCharged.delete(subject);
    if (row.captured !== charged) {
      violation("daily-spend-matches-charges", `${subject}: stored ${row.captured}, charges say ${charged}`);
    }
  }
  for (const [subject, charged] of dailyCharged) {
    violation("daily-spend-matches-charges", `${subject}: nothing stored, charges say ${charged}`);
  }

  // Money from outside and back: a top-up is credited once it succeeded and only then, a settlement
  // is paid out when it is created, each by exactly its amount.
  for (const row of yield* read<{ id: string; status: string; amount: number; credited: number | null }>(
    `SELECT t.id, t.status, t.amount, c.amount AS credited FROM topups t
     LEFT JOIN transfers c ON c.id = '${SYSTEM_ID}topup:' || t.id AND c.kind = 'topup'
     WHERE (t.status = 'succeeded') <> (c.amount IS NOT NULL) OR c.amount <> t.amount`,
  )) {
    violation(
      "topup-credited-once",
      `${row.id} is ${row.status} for ${row.amount}, credited ${row.credited ?? "nothing"}`,
    );
  }
  for (const row of yield* read<{ id: string; amount: number; paid: number | null }>(
    `SELECT s.id, s.amount, p.amount AS paid FROM settlements s
     LEFT JOIN transfers p ON p.id = '${SYSTEM_ID}payout:' || s.id AND p.kind = 'payout'
     WHERE p.amount IS NULL OR p.amount <> s.amount`,
  )) {
    violation("settlement-paid-out", `${row.id} settles ${row.amount}, paid out ${row.paid ?? "nothing"}`);
  }

  return { ok: violations.length === 0, accounts: accountRows.length, transfers, totals, violations };
}

/** A charge with its hold and the transfer that resolved it, as the audit reads them. */
interface AuditedCharge extends ChargeRow {
  hold_kind: string | null;
  hold_amount: number | null;
  hold_debit: string | null;
  hold_credit: string | null;
  resolution: string | null;
  resolved_amount: number | null;
  resolved_debit: string | null;
  resolved_credit: string | null;
}

/** What is wrong with a charge given its transfers, if anything. */
function chargeProblem(row: AuditedCharge, fee: { amount: number; count: number }): string | undefined {
  const wallet = walletOf(row.buyer_id);
  const earnings = earningsOf(row.seller_account_id);
  if (
    row.hold_kind !== "hold" ||
    row.hold_amount !== row.held ||
    row.hold_debit !== wallet ||
    row.hold_credit !== earnings
  ) {
    return "hold transfer missing or different";
  }
  if (row.resolution !== null && (row.resolved_debit !== wallet || row.resolved_credit !== earnings)) {
    return "resolved between other accounts";
  }
  if (
    row.status === "pending" &&
    (row.resolution !== null || row.captured !== 0 || row.fee !== 0 || row.resolved_at !== null)
  ) {
    return "pending, yet resolved, charged or dated";
  }
  if (
    row.status === "completed" &&
    (row.resolution !== "capture" ||
      row.resolved_amount !== row.captured ||
      row.captured < 1 ||
      row.captured > row.held ||
      row.resolved_at === null)
  ) {
    return "capture does not match";
  }
  if (
    row.status === "completed" &&
    (row.fee !== Number(splitCharge(row.captured).fee) || fee.amount !== row.fee || fee.count > 1)
  ) {
    return "fee is not floor(10%) of the charge, paid once";
  }
  if (
    row.status === "voided" &&
    (row.resolution !== "void" ||
      row.resolved_amount !== row.held ||
      row.captured !== 0 ||
      row.fee !== 0 ||
      fee.count !== 0 ||
      row.resolved_at === null)
  ) {
    return "void does not match";
  }
  return undefined;
}
