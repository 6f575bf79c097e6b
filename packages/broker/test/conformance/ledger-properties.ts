import { isDeepStrictEqual } from "node:util";
import { type ErrorCode, isMercatoError, splitCharge } from "@mercato/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Store } from "../../src/app/store.js";
import type {
  AuditRecord,
  CaptureRequest,
  ChargeRecord,
  HoldRequest,
  VoidRequest,
} from "../../src/ledger/port.js";
import { apiKeyRecord } from "../support/records.js";

/*
 * Model-based tests of the ledger: random sequences of operations, some started together, run
 * against a fresh store and against a plain model of what each account must hold. After
 * every step the store's balances, charges and audit must be the model's.
 *
 * Operations are plain data: indexes into small pools of ids and accounts, holds named by how
 * recent they are, capture sizes relative to the hold. Each kind of request mostly takes ids from its
 * own small pool (so replays and captures of resolved holds are common) and sometimes from another's
 * (so ids reused across kinds are tried too). Every run starts by funding the wallets, so that most
 * holds go through. Access keys have caps of their own, which the caller (like the broker, from the
 * key's record) sends with each hold and changes now and then; so do buyers' daily caps (the
 * new-account limit, which the broker sends for young accounts). A failing sequence shrinks to a
 * short one with small numbers.
 */

const ACCOUNTS = ["acct_prop_a", "acct_prop_b", "acct_prop_c"];
const AGENTS = ["agent_prop_x", "agent_prop_y"];
const KEYS = ["key_prop_1", "key_prop_2"];
/** Caller ids: the pools of holds, resolutions and credits; the last is the ledger's own, always refused. */
const IDS = [
  "h0",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "h7",
  "r0",
  "r1",
  "r2",
  "r3",
  "r4",
  "r5",
  "c0",
  "c1",
  "ledger:h0",
];
const HOLD_IDS = [0, 7] as const;
const RESOLUTION_IDS = [8, 13] as const;
const CREDIT_IDS = [14, 15] as const;
/** Ten minutes before a month ends: clock moves cross into the next month and reset spend caps. */
const START = Date.parse("2026-01-31T23:50:00.000Z");
const MINUTE = 60_000;
const USD = 1_000_000;

// ---------------------------------------------------------------- operations as data

type Size = "full" | "half" | "one" | "over" | "zero";
/** The hold a capture or void names: the n-th most recent hold sent, or any id. */
type Target = { recent: number } | { id: number };
type Action =
  | { kind: "credit"; id: number; account: number; amount: number }
  | {
      kind: "hold";
      id: number;
      buyer: number;
      seller: number;
      agent: number;
      key: number | null;
      amount: number;
      ttl: number;
    }
  | { kind: "capture"; id: number; hold: Target; size: Size }
  | { kind: "void"; id: number; hold: Target }
  | { kind: "expire" }
  | { kind: "settle" }
  | { kind: "cap"; account: number; cap: number | null }
  /** Changes a key's own cap, as the caller knows it: the holds sent afterwards carry it. */
  | { kind: "keyCap"; key: number; cap: number | null }
  /** Changes a buyer's daily cap, as the caller knows it: the holds sent afterwards carry it. */
  | { kind: "dailyCap"; account: number; cap: number | null }
  /** Sends an earlier request again: as it was (`same`) or with one field changed. */
  | { kind: "retry"; back: number; same: boolean; field: number };
type Step = Action | { kind: "advance"; minutes: number } | { kind: "together"; actions: Action[] };

/** Mostly an id of the request's own pool, sometimes any id. */
const idFrom = ([min, max]: readonly [number, number]) =>
  fc.oneof(
    { arbitrary: fc.integer({ min, max }), weight: 12 },
    { arbitrary: fc.integer({ min: 0, max: IDS.length - 1 }), weight: 2 },
  );
const account = fc.integer({ min: 0, max: ACCOUNTS.length - 1 });
const amount = fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 3 * USD }));
const target: fc.Arbitrary<Target> = fc.oneof(
  { arbitrary: fc.record({ recent: fc.nat({ max: 3 }) }), weight: 8 },
  { arbitrary: fc.record({ id: fc.integer({ min: 0, max: IDS.length - 1 }) }), weight: 1 },
);
const size = fc.oneof(
  { arbitrary: fc.constantFrom<Size>("full", "half", "one"), weight: 8 },
  { arbitrary: fc.constantFrom<Size>("over", "zero"), weight: 1 },
);
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("credit" as const),
      id: idFrom(CREDIT_IDS),
      account,
      amount: fc.integer({ min: 1, max: 5 * USD }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("hold" as const),
      id: idFrom(HOLD_IDS),
      buyer: account,
      seller: account,
      agent: fc.integer({ min: 0, max: AGENTS.length - 1 }),
      key: fc.option(fc.integer({ min: 0, max: KEYS.length - 1 })),
      amount,
      ttl: fc.integer({ min: 1, max: 30 }),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("capture" as const),
      id: idFrom(RESOLUTION_IDS),
      hold: target,
      size,
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("void" as const), id: idFrom(RESOLUTION_IDS), hold: target }),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: "expire" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "settle" as const }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant("cap" as const),
      account,
      cap: fc.option(fc.integer({ min: 0, max: 6 * USD }), { freq: 3 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("keyCap" as const),
      key: fc.integer({ min: 0, max: KEYS.length - 1 }),
      cap: fc.option(fc.integer({ min: 0, max: 6 * USD }), { freq: 3 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("dailyCap" as const),
      account,
      cap: fc.option(fc.integer({ min: 0, max: 6 * USD }), { freq: 3 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("retry" as const),
      back: fc.nat({ max: 5 }),
      same: fc.boolean(),
      field: fc.nat({ max: 4 }),
    }),
    weight: 3,
  },
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: action, weight: 10 },
  {
    arbitrary: fc.record({ kind: fc.constant("advance" as const), minutes: fc.integer({ min: 1, max: 25 }) }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("together" as const),
      actions: fc.array(action, { minLength: 2, maxLength: 4 }),
    }),
    weight: 3,
  },
);
/** What each wallet starts with (zero included), then the steps. */
const scenario = fc.record({
  funds: fc.tuple(
    ...ACCOUNTS.map(() =>
      fc.oneof(
        { arbitrary: fc.constant(0), weight: 1 },
        { arbitrary: fc.integer({ min: 1, max: 20 * USD }), weight: 4 },
      ),
    ),
  ),
  steps: fc.array(step, { minLength: 1, maxLength: 40, size: "max" }),
});

// ---------------------------------------------------------------- concrete requests

type Request =
  | {
      kind: "credit";
      request: { id: string; accountId: string; amount: number; reference: string; at: string };
    }
  | { kind: "hold"; request: HoldRequest }
  | { kind: "capture"; request: CaptureRequest }
  | { kind: "void"; request: VoidRequest }
  | { kind: "expire"; now: string }
  | { kind: "settle"; date: string; at: string }
  | { kind: "cap"; accountId: string; cap: number | null }
  | { kind: "keyCap"; keyId: string; cap: number | null }
  | { kind: "dailyCap"; accountId: string; cap: number | null };

type Outcome = { ok: true; value: unknown } | { ok: false; code: ErrorCode };

const iso = (ms: number) => new Date(ms).toISOString();
const monthOf = (at: string) => at.slice(0, 7);
const dayOf = (at: string) => at.slice(0, 10);
const other = <T>(pool: readonly T[], value: T): T => pool[(pool.indexOf(value) + 1) % pool.length] as T;

/** Turns an action into the request it sends now, as the model sees the ledger. */
function resolve(action: Action, model: Model, history: Request[]): Request | undefined {
  const at = iso(model.now);
  switch (action.kind) {
    case "credit":
      return {
        kind: "credit",
        request: {
          id: IDS[action.id] as string,
          accountId: ACCOUNTS[action.account] as string,
          amount: action.amount,
          reference: "top-up",
          at,
        },
      };
    case "hold": {
      const keyId = action.key === null ? null : (KEYS[action.key] as string);
      const buyerId = ACCOUNTS[action.buyer] as string;
      const dailyCap = model.dailyCaps.get(buyerId) ?? null;
      return {
        kind: "hold",
        request: {
          id: IDS[action.id] as string,
          buyerId,
          sellerAccountId: ACCOUNTS[action.seller] as string,
          agentId: AGENTS[action.agent] as string,
          keyId,
          ...(keyId !== null && { keySpendCap: model.keyCaps.get(keyId) ?? null }),
          ...(dailyCap !== null && { dailyCap }),
          amount: action.amount,
          expiresAt: iso(model.now + action.ttl * MINUTE),
          at,
        },
      };
    }
    case "capture": {
      const holdId = targetOf(action.hold, history, model);
      const held = model.charges.get(holdId)?.held ?? 1_000;
      const amount = { full: held, half: Math.ceil(held / 2), one: 1, over: held + 1, zero: 0 }[action.size];
      return { kind: "capture", request: { id: IDS[action.id] as string, holdId, amount, at } };
    }
    case "void":
      return {
        kind: "void",
        request: { id: IDS[action.id] as string, holdId: targetOf(action.hold, history, model), at },
      };
    case "expire":
      return { kind: "expire", now: at };
    case "settle":
      return { kind: "settle", date: at.slice(0, 10), at };
    case "cap":
      return { kind: "cap", accountId: ACCOUNTS[action.account] as string, cap: action.cap };
    case "keyCap":
      return { kind: "keyCap", keyId: KEYS[action.key] as string, cap: action.cap };
    case "dailyCap":
      return { kind: "dailyCap", accountId: ACCOUNTS[action.account] as string, cap: action.cap };
    case "retry": {
      const sent = history.filter((request) => ["credit", "hold", "capture", "void"].includes(request.kind));
      const earlier = sent[sent.length - 1 - (action.back % Math.max(sent.length, 1))];
      return earlier && again(earlier, action, at);
    }
  }
}

/** The hold a capture or void names: mostly one that was placed, whatever became of it. */
function targetOf(target: Target, history: Request[], model: Model): string {
  if ("id" in target) return IDS[target.id] as string;
  const sent = history.flatMap((request) => (request.kind === "hold" ? [request.request.id] : []));
  const placed = sent.filter((holdId) => model.charges.has(holdId));
  const holds = placed.length > 0 ? placed : sent;
  return holds[holds.length - 1 - (target.recent % Math.max(holds.length, 1))] ?? (IDS[0] as string);
}

/** An earlier request sent again now: the same fields, or one of them changed. */
function again(earlier: Request, { same, field }: { same: boolean; field: number }, at: string): Request {
  switch (earlier.kind) {
    case "credit": {
      const r = { ...earlier.request, at };
      if (!same) {
        if (field % 3 === 0) r.amount += 1;
        else if (field % 3 === 1) r.accountId = other(ACCOUNTS, r.accountId);
        else r.reference = "another top-up";
      }
      return { kind: "credit", request: r };
    }
    case "hold": {
      // A retry comes later, with its own time and expiry; those do not make it another request.
      const ttl = Date.parse(earlier.request.expiresAt) - Date.parse(earlier.request.at);
      const r = { ...earlier.request, at, expiresAt: iso(Date.parse(at) + ttl) };
      if (!same) {
        if (field === 0) r.amount += 1;
        else if (field === 1) r.buyerId = other(ACCOUNTS, r.buyerId);
        else if (field === 2) r.sellerAccountId = other(ACCOUNTS, r.sellerAccountId);
        else if (field === 3) r.agentId = other(AGENTS, r.agentId);
        else r.keyId = r.keyId === null ? (KEYS[0] as string) : null;
      }
      return { kind: "hold", request: r };
    }
    case "capture": {
      const r = { ...earlier.request, at };
      if (!same) {
        if (field % 2 === 0) r.amount = Math.max(1, r.amount - 1);
        else r.holdId = other(IDS, r.holdId);
      }
      return { kind: "capture", request: r };
    }
    case "void":
      return {
        kind: "void",
        request: { ...earlier.request, at, ...(!same && { holdId: other(IDS, earlier.request.holdId) }) },
      };
    default:
      return earlier;
  }
}

// ---------------------------------------------------------------- the model

type Fact =
  | { kind: "topup"; accountId: string; amount: number; reference: string }
  | { kind: "hold" }
  | { kind: "capture"; holdId: string; amount: number }
  | { kind: "void"; holdId: string };

interface Figures {
  available: number;
  held: number;
  earnings: number;
}

/** What the ledger must hold, kept the simplest way: plain numbers per account. */
class Model {
  now = START;
  accounts = new Map<string, Figures>(ACCOUNTS.map((a) => [a, { available: 0, held: 0, earnings: 0 }]));
  revenue = 0;
  toppedUp = 0;
  paidOut = 0;
  caps = new Map<string, number | null>();
  spent = new Map<string, number>();
  /** Access keys' own caps, as the caller sends them. */
  keyCaps = new Map<string, number | null>();
  /** Per access key: captured charges plus holds in flight. */
  keySpent = new Map<string, number>();
  /** Buyers' daily caps, as the caller sends them. */
  dailyCaps = new Map<string, number | null>();
  /** Captured charges per buyer and UTC day (of the capture). */
  dailySpent = new Map<string, number>();
  transfers = new Map<string, Fact>();
  charges = new Map<string, ChargeRecord>();
  settled = new Set<string>();
  payouts = new Map<string, number>();

  clone(): Model {
    return Object.assign(new Model(), structuredClone({ ...this }));
  }

  private figures(accountId: string): Figures {
    return this.accounts.get(accountId) as Figures;
  }

  private spentIn(accountId: string, month: string): number {
    return this.spent.get(`${accountId} ${month}`) ?? 0;
  }

  private addKeySpend(keyId: string | null, amount: number): void {
    if (keyId !== null) this.keySpent.set(keyId, (this.keySpent.get(keyId) ?? 0) + amount);
  }

  /** Applies one request and says how the ledger must answer it. */
  apply(request: Request): Outcome {
    const ok = (value: unknown = undefined): Outcome => ({ ok: true, value });
    const fail = (code: ErrorCode): Outcome => ({ ok: false, code });
    const charge = (holdId: string) => ({ ...(this.charges.get(holdId) as ChargeRecord) });
    const callerId = (id: string) => !id.startsWith("ledger:");
    switch (request.kind) {
      case "credit": {
        const r = request.request;
        if (!callerId(r.id)) return fail("VALIDATION_ERROR");
        const fact = this.transfers.get(r.id);
        if (fact) {
          const same =
            fact.kind === "topup" &&
            fact.accountId === r.accountId &&
            fact.amount === r.amount &&
            fact.reference === r.reference;
          return same ? ok() : fail("CONFLICT");
        }
        this.transfers.set(r.id, {
          kind: "topup",
          accountId: r.accountId,
          amount: r.amount,
          reference: r.reference,
        });
        this.figures(r.accountId).available += r.amount;
        this.toppedUp += r.amount;
        return ok();
      }
      case "hold": {
        const r = request.request;
        if (!callerId(r.id)) return fail("VALIDATION_ERROR");
        const fact = this.transfers.get(r.id);
        if (fact) {
          const c = this.charges.get(r.id);
          const same =
            fact.kind === "hold" &&
            c !== undefined &&
            c.buyerId === r.buyerId &&
            c.sellerAccountId === r.sellerAccountId &&
            c.agentId === r.agentId &&
            c.keyId === (r.keyId ?? null) &&
            c.held === r.amount;
          // A replay answers the charge as it stands, marked: the request did not place it.
          return same ? ok({ ...charge(r.id), replayed: true }) : fail("CONFLICT");
        }
        const wallet = this.figures(r.buyerId);
        if (wallet.available < r.amount) return fail("INSUFFICIENT_FUNDS");
        const cap = this.caps.get(r.buyerId) ?? null;
        if (cap !== null && this.spentIn(r.buyerId, monthOf(r.at)) + wallet.held + r.amount > cap) {
          return fail("SPEND_CAP_EXCEEDED");
        }
        const dailyCap = r.dailyCap ?? null;
        const spentToday = this.dailySpent.get(`${r.buyerId} ${dayOf(r.at)}`) ?? 0;
        if (dailyCap !== null && spentToday + wallet.held + r.amount > dailyCap) {
          return fail("SPEND_CAP_EXCEEDED");
        }
        const keyId = r.keyId ?? null;
        const keyCap = keyId === null ? null : (r.keySpendCap ?? null);
        if (keyCap !== null && (this.keySpent.get(keyId as string) ?? 0) + r.amount > keyCap) {
          return fail("SPEND_CAP_EXCEEDED");
        }
        wallet.available -= r.amount;
        wallet.held += r.amount;
        this.addKeySpend(keyId, r.amount);
        this.transfers.set(r.id, { kind: "hold" });
        this.charges.set(r.id, {
          id: r.id,
          buyerId: r.buyerId,
          sellerAccountId: r.sellerAccountId,
          agentId: r.agentId,
          keyId: r.keyId ?? null,
          held: r.amount,
          captured: 0,
          fee: 0,
          status: "pending",
          expiresAt: r.expiresAt,
          createdAt: r.at,
          resolvedAt: null,
        });
        return ok(charge(r.id));
      }
      case "capture": {
        const r = request.request;
        if (!callerId(r.id)) return fail("VALIDATION_ERROR");
        if (r.amount < 1) return fail("INVALID_AMOUNT");
        const fact = this.transfers.get(r.id);
        if (fact) {
          const same = fact.kind === "capture" && fact.holdId === r.holdId && fact.amount === r.amount;
          return same ? ok(charge(r.holdId)) : fail("CONFLICT");
        }
        const c = this.charges.get(r.holdId);
        if (!c) return fail("NOT_FOUND");
        if (c.status !== "pending" || c.expiresAt <= r.at) return fail("CONFLICT");
        if (r.amount > c.held) return fail("VALIDATION_ERROR");
        const fee = Number(splitCharge(r.amount).fee);
        const wallet = this.figures(c.buyerId);
        wallet.held -= c.held;
        wallet.available += c.held - r.amount;
        this.figures(c.sellerAccountId).earnings += r.amount - fee;
        this.revenue += fee;
        const month = `${c.buyerId} ${monthOf(r.at)}`;
        this.spent.set(month, (this.spent.get(month) ?? 0) + r.amount);
        const day = `${c.buyerId} ${dayOf(r.at)}`;
        this.dailySpent.set(day, (this.dailySpent.get(day) ?? 0) + r.amount);
        this.addKeySpend(c.keyId, r.amount - c.held);
        Object.assign(c, { captured: r.amount, fee, status: "completed", resolvedAt: r.at });
        this.transfers.set(r.id, { kind: "capture", holdId: r.holdId, amount: r.amount });
        return ok(charge(r.holdId));
      }
      case "void": {
        const r = request.request;
        if (!callerId(r.id)) return fail("VALIDATION_ERROR");
        const fact = this.transfers.get(r.id);
        if (fact)
          return fact.kind === "void" && fact.holdId === r.holdId ? ok(charge(r.holdId)) : fail("CONFLICT");
        const c = this.charges.get(r.holdId);
        if (!c) return fail("NOT_FOUND");
        if (c.status !== "pending") return fail("CONFLICT");
        this.release(c, r.at);
        this.transfers.set(r.id, { kind: "void", holdId: r.holdId });
        return ok(charge(r.holdId));
      }
      case "expire": {
        let expired = 0;
        for (const c of this.charges.values()) {
          if (c.status === "pending" && c.expiresAt <= request.now) {
            this.release(c, request.now);
            expired++;
          }
        }
        return ok(expired);
      }
      case "settle": {
        const created: Array<{ accountId: string; amount: number }> = [];
        for (const [accountId, figures] of this.accounts) {
          const key = `${accountId} ${request.date}`;
          if (figures.earnings > 0 && !this.settled.has(key)) {
            created.push({ accountId, amount: figures.earnings });
            this.paidOut += figures.earnings;
            this.payouts.set(accountId, (this.payouts.get(accountId) ?? 0) + figures.earnings);
            figures.earnings = 0;
            this.settled.add(key);
          }
        }
        return ok(created);
      }
      case "cap":
        this.caps.set(request.accountId, request.cap);
        return ok();
      case "keyCap":
        this.keyCaps.set(request.keyId, request.cap);
        return ok();
      case "dailyCap":
        this.dailyCaps.set(request.accountId, request.cap);
        return ok();
    }
  }

  private release(c: ChargeRecord, at: string): void {
    const wallet = this.figures(c.buyerId);
    wallet.held -= c.held;
    wallet.available += c.held;
    this.addKeySpend(c.keyId, -c.held);
    Object.assign(c, { status: "voided", resolvedAt: at });
  }

  /** What the store must show now: every account's balance and the audit's totals. */
  snapshot(): Snapshot {
    const month = monthOf(iso(this.now));
    const balances = ACCOUNTS.map((accountId) => ({
      accountId,
      ...this.figures(accountId),
      monthlyCap: this.caps.get(accountId) ?? null,
      spentThisMonth: this.spentIn(accountId, month),
    }));
    let wallets = 0;
    let held = 0;
    let earnings = 0;
    for (const figures of this.accounts.values()) {
      wallets += figures.available + figures.held;
      held += figures.held;
      earnings += figures.earnings;
    }
    return {
      balances,
      keySpend: Object.fromEntries(KEYS.map((keyId) => [keyId, this.keySpent.get(keyId) ?? 0])),
      totals: {
        toppedUp: this.toppedUp,
        paidOut: this.paidOut,
        wallets,
        held,
        earnings,
        revenue: this.revenue,
      },
    };
  }
}

interface Snapshot {
  balances: Array<Figures & { accountId: string; monthlyCap: number | null; spentThisMonth: number }>;
  keySpend: Record<string, number>;
  totals: AuditRecord["totals"];
}

// ---------------------------------------------------------------- the store

/** A store to run on: empty (no accounts), fresh for each run; it is closed after the run. */
type EmptyStore = () => Promise<Store>;

/** An empty store with the accounts the scenarios use. */
async function seeded(emptyStore: EmptyStore): Promise<Store> {
  const store = await emptyStore();
  for (const [n, accountId] of ACCOUNTS.entries()) {
    await store.createAccount(
      { id: accountId, name: accountId, email: null, createdAt: iso(START) },
      apiKeyRecord({
        id: `key_prop_${n}`,
        accountId,
        prefix: "mk_prop",
        hash: String(n).repeat(64),
        createdAt: iso(START),
      }),
    );
  }
  return store;
}

async function send(store: Store, request: Request, newId: () => string): Promise<Outcome> {
  try {
    switch (request.kind) {
      case "credit":
        return { ok: true, value: await store.credit(request.request) };
      case "hold":
        return { ok: true, value: await store.hold(request.request) };
      case "capture":
        return { ok: true, value: await store.capture(request.request) };
      case "void":
        return { ok: true, value: await store.voidHold(request.request) };
      case "expire":
        return { ok: true, value: await store.expireHolds(request.now) };
      case "settle": {
        const created = await store.createSettlements(request.date, "test", request.at, newId);
        for (const s of created) {
          expect(s).toMatchObject({ settlementDate: request.date, status: "pending", createdAt: request.at });
        }
        return {
          ok: true,
          value: created
            .map(({ accountId, amount }) => ({ accountId, amount }))
            .sort((x, y) => x.accountId.localeCompare(y.accountId)),
        };
      }
      case "cap":
        return { ok: true, value: await store.setMonthlyCap(request.accountId, request.cap) };
      case "keyCap":
      case "dailyCap":
        // The caller's own state: the store hears of a key's or a buyer's daily cap with each hold.
        return { ok: true, value: undefined };
    }
  } catch (error) {
    // Only the ledger's own refusals are outcomes; anything else is a bug.
    if (!isMercatoError(error)) throw error;
    return { ok: false, code: error.code };
  }
}

async function observe(store: Store, now: number): Promise<Snapshot> {
  const at = iso(now);
  const balances = await Promise.all(
    ACCOUNTS.map(async (accountId) => {
      const { available, held, earnings, monthlyCap, spentThisMonth } = await store.getBalance(accountId, at);
      return { accountId, available, held, earnings, monthlyCap, spentThisMonth };
    }),
  );
  const keySpend = Object.fromEntries(await store.getKeySpend(KEYS));
  const audit = await store.audit();
  expect(audit.violations).toEqual([]);
  return { balances, keySpend, totals: audit.totals };
}

/** Every order of `n` items, the given order first. */
function orders(n: number): number[][] {
  if (n === 0) return [[]];
  return orders(n - 1).flatMap((order) =>
    Array.from({ length: n }, (_, at) => [...order.slice(0, n - 1 - at), n - 1, ...order.slice(n - 1 - at)]),
  );
}

/** Runs steps against a fresh store and the model, comparing after each one. */
async function run(
  emptyStore: EmptyStore,
  { funds, steps }: { funds: number[]; steps: Step[] },
): Promise<void> {
  const store = await seeded(emptyStore);
  let model = new Model();
  const history: Request[] = [];
  let settlements = 0;
  const newId = () => `stl_prop_${++settlements}`;
  try {
    for (const [i, amount] of funds.entries()) {
      if (amount === 0) continue;
      const request: Request = {
        kind: "credit",
        request: {
          id: `fund_${i}`,
          accountId: ACCOUNTS[i] as string,
          amount,
          reference: "funds",
          at: iso(START),
        },
      };
      expect(await send(store, request, newId)).toEqual(model.apply(request));
    }
    for (const [index, step] of steps.entries()) {
      const where = `step ${index} ${JSON.stringify(step)}`;
      if (step.kind === "advance") {
        model.now += step.minutes * MINUTE;
        continue;
      }
      const actions = step.kind === "together" ? step.actions : [step];
      const requests: Request[] = [];
      for (const a of actions) {
        const request = resolve(a, model, history);
        if (request) {
          requests.push(request);
          history.push(request);
        }
      }
      // Started together: the store may run them in any order, so some order must explain
      // every answer and the state after them.
      const outcomes = await Promise.all(requests.map((request) => send(store, request, newId)));
      const seen = await observe(store, model.now);
      let explained: Model | undefined;
      for (const order of orders(requests.length)) {
        const candidate = model.clone();
        const expected = order.map((i) => candidate.apply(requests[i] as Request));
        if (
          order.every((i, k) => isDeepStrictEqual(expected[k], outcomes[i])) &&
          isDeepStrictEqual(candidate.snapshot(), seen)
        ) {
          explained = candidate;
          break;
        }
      }
      if (!explained) {
        // Show the difference from the order the requests were sent in.
        const sequential = model.clone();
        const expected = requests.map((request) => sequential.apply(request));
        expect({ where, requests, outcomes, seen }).toEqual({
          where,
          requests,
          outcomes: expected,
          seen: sequential.snapshot(),
        });
      }
      model = explained as Model;
    }
    for (const [holdId, charge] of model.charges) expect(await store.getCharge(holdId)).toEqual(charge);
    for (const accountId of ACCOUNTS) {
      const listed = await store.listCharges(accountId, { limit: 100 });
      const mine = [...model.charges.values()].filter(
        (c) => c.buyerId === accountId || c.sellerAccountId === accountId,
      );
      expect(listed.charges.map((c) => c.id).sort()).toEqual(mine.map((c) => c.id).sort());
      const settled = (await store.listSettlements(accountId)).reduce((sum, s) => sum + s.amount, 0);
      expect(settled).toBe(model.payouts.get(accountId) ?? 0);
    }
  } finally {
    await store.close();
  }
}

/**
 * How many random runs each property makes; each property may take up to `timeoutMs` (10 minutes by
 * default: thousands of runs take a minute alone, several while CI runs every package at once).
 */
export interface LedgerPropertyOptions {
  /** Runs of the model-based property (random sequences of operations). */
  modelRuns: number;
  /** Runs of the concurrent-holds property. */
  concurrentRuns: number;
  timeoutMs?: number;
}

/**
 * The ledger's property tests, on any store: random sequences of operations checked against a
 * model after every step, and many concurrent holds that must never overdraw a wallet nor pass a
 * cap. `emptyStore` gives a store without accounts, fresh for each run (it is closed after it).
 *
 * @example
 * describeLedgerProperties("SQLite in memory", async () => createSqliteStore({ path: ":memory:" }), {
 *   modelRuns: 2_000,
 *   concurrentRuns: 500,
 * });
 */
export function describeLedgerProperties(
  name: string,
  emptyStore: EmptyStore,
  { modelRuns, concurrentRuns, timeoutMs = 600_000 }: LedgerPropertyOptions,
): void {
  describe(`ledger properties (${name})`, () => {
    it(
      "matches a simple model through random sequences of sequential and concurrent operations",
      async () => {
        await fc.assert(
          fc.asyncProperty(scenario, (scenario) => run(emptyStore, scenario)),
          { numRuns: modelRuns },
        );
      },
      timeoutMs,
    );

    it(
      "never overdraws a wallet nor passes a key's or a daily cap under many concurrent holds, then settles each hold once",
      async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: 10 * USD }),
            fc.option(fc.integer({ min: 0, max: 10 * USD }), { freq: 2 }),
            fc.option(fc.integer({ min: 0, max: 10 * USD }), { freq: 2 }),
            fc.array(
              fc.record({
                amount: fc.integer({ min: 1, max: 3 * USD }),
                capture: fc.boolean(),
                part: fc.boolean(),
              }),
              {
                minLength: 1,
                maxLength: 40,
              },
            ),
            async (funds, cap, dailyCap, attempts) => {
              const store = await seeded(emptyStore);
              try {
                const [buyer, seller] = ACCOUNTS as [string, string];
                const at = iso(START);
                if (funds > 0)
                  await store.credit({ id: "funds", accountId: buyer, amount: funds, reference: "t", at });
                const holds = await Promise.allSettled(
                  attempts.map((attempt, i) =>
                    store.hold({
                      id: `h${i}`,
                      buyerId: buyer,
                      sellerAccountId: seller,
                      agentId: "agent_prop_x",
                      keyId: KEYS[0] as string,
                      keySpendCap: cap,
                      dailyCap,
                      amount: attempt.amount,
                      expiresAt: iso(START + MINUTE),
                      at,
                    }),
                  ),
                );
                // Whatever order the store chose: the holds it placed fit in the wallet and under the key's
                // and the daily cap, and each one it refused would not have fitted even after all the others.
                const placed = attempts.filter((_, i) => holds[i]?.status === "fulfilled");
                const heldTotal = placed.reduce((sum, a) => sum + a.amount, 0);
                expect(heldTotal).toBeLessThanOrEqual(funds);
                if (cap !== null) expect(heldTotal).toBeLessThanOrEqual(cap);
                if (dailyCap !== null) expect(heldTotal).toBeLessThanOrEqual(dailyCap);
                const tightestCap = Math.min(
                  cap ?? Number.POSITIVE_INFINITY,
                  dailyCap ?? Number.POSITIVE_INFINITY,
                );
                holds.forEach((outcome, i) => {
                  if (outcome.status === "rejected") {
                    const code = isMercatoError(outcome.reason) && outcome.reason.code;
                    const limit = code === "SPEND_CAP_EXCEEDED" ? tightestCap : funds;
                    expect(
                      code === "INSUFFICIENT_FUNDS" ||
                        (code === "SPEND_CAP_EXCEEDED" && (cap !== null || dailyCap !== null)),
                    ).toBe(true);
                    expect((attempts[i]?.amount ?? 0) > limit - heldTotal).toBe(true);
                  }
                });
                expect(await store.getKeySpend([KEYS[0] as string])).toEqual(new Map([[KEYS[0], heldTotal]]));
                expect(await store.getBalance(buyer, at)).toMatchObject({
                  available: funds - heldTotal,
                  held: heldTotal,
                });

                // Resolve every placed hold at once, twice over (a capture or void and its replay).
                let spent = 0;
                let earned = 0;
                const resolutions = attempts.flatMap((attempt, i) => {
                  if (holds[i]?.status !== "fulfilled") return [];
                  if (!attempt.capture) {
                    const request = { id: `v${i}`, holdId: `h${i}`, at };
                    return [store.voidHold(request), store.voidHold(request)];
                  }
                  const captured = attempt.part ? Math.ceil(attempt.amount / 3) : attempt.amount;
                  spent += captured;
                  earned += Number(splitCharge(captured).sellerShare);
                  const request = { id: `c${i}`, holdId: `h${i}`, amount: captured, at };
                  return [store.capture(request), store.capture(request)];
                });
                await Promise.all(resolutions);
                expect(await store.getBalance(buyer, at)).toMatchObject({
                  available: funds - spent,
                  held: 0,
                });
                expect(await store.getKeySpend([KEYS[0] as string])).toEqual(new Map([[KEYS[0], spent]]));
                expect(await store.getBalance(seller, at)).toMatchObject({
                  available: 0,
                  held: 0,
                  earnings: earned,
                });
                const audit = await store.audit();
                expect(audit.violations).toEqual([]);
                expect(audit.totals.revenue).toBe(spent - earned);
              } finally {
                await store.close();
              }
            },
          ),
          { numRuns: concurrentRuns },
        );
      },
      timeoutMs,
    );
  });
}
