import { MercatoError } from "@mercato/protocol/errors";
import { formatUsd, parseUsd } from "@mercato/protocol/money";

/**
 * What the person who runs the server allows the model to spend. Set by flags or environment when
 * the server starts, never by a tool call: no tool can read or change it but the read-only
 * `mercato://policy` resource.
 */
export interface SpendingPolicy {
  /** Highest price of one call, micro-USD; null: no ceiling. */
  maxPriceMicros: bigint | null;
  /** Most one session may spend, micro-USD (a stdio session is the server process; over HTTP, one account's calls while the server runs). */
  sessionBudgetMicros: bigint | null;
  /** Most the account may spend on calls per UTC day, micro-USD, counting what it spent earlier that day. */
  dailyBudgetMicros: bigint | null;
  /** Only agents in these categories may be called; null: any. */
  categories: readonly string[] | null;
  /** Only these agents may be called; null: any. */
  agents: readonly string[] | null;
}

/** The policy's settings as given on the command line or in the environment (USD as decimal strings). */
export interface PolicyOptions {
  maxPrice?: string | undefined;
  budget?: string | undefined;
  dailyBudget?: string | undefined;
  /** Comma-separated, or a list. */
  categories?: string | readonly string[] | undefined;
  agents?: string | readonly string[] | undefined;
}

/**
 * Reads a policy. Amounts are USD with at most 6 decimals.
 * @throws MercatoError `INVALID_AMOUNT` for an amount that is not one, `VALIDATION_ERROR` for an empty list.
 */
export function parsePolicy(options: PolicyOptions): SpendingPolicy {
  return {
    maxPriceMicros: amount(options.maxPrice, "--max-price"),
    sessionBudgetMicros: amount(options.budget, "--budget"),
    dailyBudgetMicros: amount(options.dailyBudget, "--daily-budget"),
    categories: list(options.categories, "--categories"),
    agents: list(options.agents, "--agents"),
  };
}

function amount(value: string | undefined, flag: string): bigint | null {
  if (value === undefined || value.trim() === "") return null;
  try {
    return parseUsd(value.trim());
  } catch (error) {
    throw new MercatoError(
      "INVALID_AMOUNT",
      `${flag} must be a USD amount like 0.50, got ${JSON.stringify(value)}`,
      {
        cause: error,
      },
    );
  }
}

function list(value: string | readonly string[] | undefined, flag: string): readonly string[] | null {
  if (value === undefined) return null;
  const items = (typeof value === "string" ? value.split(",") : value)
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) throw new MercatoError("VALIDATION_ERROR", `${flag} lists nothing`);
  return [...new Set(items)];
}

/** The policy as the `mercato://policy` resource and the refusals show it. */
export function describePolicy(policy: SpendingPolicy) {
  return {
    max_price_per_call_usd: usdOrNull(policy.maxPriceMicros),
    session_budget_usd: usdOrNull(policy.sessionBudgetMicros),
    daily_budget_usd: usdOrNull(policy.dailyBudgetMicros),
    allowed_categories: policy.categories,
    allowed_agents: policy.agents,
  };
}

const usdOrNull = (micros: bigint | null) => (micros === null ? null : formatUsd(micros));

/** A listing as the policy judges it. */
export interface PricedListing {
  agentId: string;
  category: string;
  priceMicros: bigint;
}

/**
 * Whether the policy lets the model call this listing at all (category, agent, price ceiling),
 * before any money is set aside.
 * @throws MercatoError `FORBIDDEN` (category or agent not allowed) or `BUDGET_EXCEEDED` (price above
 *   the ceiling), with `details.limit` naming the limit.
 */
export function checkListing(policy: SpendingPolicy, listing: PricedListing): void {
  if (policy.agents !== null && !policy.agents.includes(listing.agentId)) {
    throw new MercatoError(
      "FORBIDDEN",
      `The spending policy does not allow agent ${listing.agentId}; allowed agents: ${policy.agents.join(", ")}. Nothing was charged.`,
      { details: { limit: "agents", allowed_agents: policy.agents } },
    );
  }
  if (policy.categories !== null && !policy.categories.includes(listing.category)) {
    throw new MercatoError(
      "FORBIDDEN",
      `The spending policy does not allow category ${JSON.stringify(listing.category)} (agent ${listing.agentId}); allowed categories: ${policy.categories.join(", ")}. Nothing was charged.`,
      { details: { limit: "categories", allowed_categories: policy.categories } },
    );
  }
  if (policy.maxPriceMicros !== null && listing.priceMicros > policy.maxPriceMicros) {
    throw new MercatoError(
      "BUDGET_EXCEEDED",
      `Agent ${listing.agentId} costs ${formatUsd(listing.priceMicros)} USD per call, above the policy's maximum of ${formatUsd(policy.maxPriceMicros)} USD. Nothing was charged.`,
      {
        details: {
          limit: "max_price",
          price_usd: formatUsd(listing.priceMicros),
          max_price_per_call_usd: formatUsd(policy.maxPriceMicros),
        },
      },
    );
  }
}

/** Money set aside for one call against the session's and the day's budgets. */
export interface PolicyReservation {
  /** Records what the call cost (at most what was set aside, unless the broker charged more) and frees the rest. */
  commit(micros: bigint): void;
  /** Frees it: the call cost nothing. */
  release(): void;
}

/** What a source of the day's earlier spending answers: micro-USD spent since `since`. */
export type SpentSince = (since: Date, atLeast: bigint) => Promise<bigint>;

/**
 * One account's spending under the policy: what this session spent and reserved, and what the day
 * has spent (read once a day from the broker, so that a restarted server still knows the day's
 * spending, then counted here). Reservations are synchronous, so concurrent tool calls can never
 * together pass a budget.
 */
export interface PolicyMeter {
  /** Reads the day's earlier spending from the broker, once per UTC day; `reserve` needs it. */
  ready(): Promise<void>;
  /**
   * Sets aside `micros` on the session's and the day's budgets (after {@link ready}).
   * @throws MercatoError `BUDGET_EXCEEDED` naming the budget that cannot cover it and what it has left.
   */
  reserve(micros: bigint, agentId: string): PolicyReservation;
  /** Left in the tightest budget, micro-USD; null when no budget is set. */
  remaining(): bigint | null;
  /** Left in the session's and the day's budgets, USD; null for a budget not set (after {@link ready}). */
  figures(): { session: string | null; today: string | null };
  /** The figures of the `mercato://policy` resource. */
  snapshot(): Promise<SpendingSnapshot>;
}

export interface SpendingSnapshot {
  session: { spent_usd: string; reserved_usd: string; remaining_usd: string | null };
  today: { date: string; spent_usd: string; reserved_usd: string; remaining_usd: string | null };
}

interface Day {
  date: string;
  spent: bigint;
}

/** A meter for one account. `spentSince` reads the day's earlier spending from the broker. */
export function createPolicyMeter(
  policy: SpendingPolicy,
  spentSince: SpentSince,
  now: () => Date = () => new Date(),
): PolicyMeter {
  let sessionSpent = 0n;
  let sessionReserved = 0n;
  let dayReserved = 0n;
  let day: Day | undefined;
  let loading: Promise<Day> | undefined;

  const load = (date: string): Promise<Day> => {
    if (policy.dailyBudgetMicros === null) return Promise.resolve({ date, spent: 0n });
    loading ??= spentSince(new Date(`${date}T00:00:00.000Z`), policy.dailyBudgetMicros).then((spent) => ({
      date,
      spent,
    }));
    return loading;
  };

  const sessionLeft = () =>
    policy.sessionBudgetMicros === null ? null : policy.sessionBudgetMicros - sessionSpent - sessionReserved;
  const dayLeft = (current: Day) =>
    policy.dailyBudgetMicros === null ? null : policy.dailyBudgetMicros - current.spent - dayReserved;
  const usd = (micros: bigint) => formatUsd(micros < 0n ? 0n : micros);

  const refuse = (which: "session_budget" | "daily_budget", price: bigint, left: bigint, agentId: string) =>
    new MercatoError(
      "BUDGET_EXCEEDED",
      `A call to ${agentId} costs up to ${formatUsd(price)} USD but the ${which === "session_budget" ? "session's" : "day's"} budget has ${usd(left)} USD left. Nothing was charged.`,
      { details: { limit: which, price_usd: formatUsd(price), remaining_usd: usd(left), agent_id: agentId } },
    );

  const meter: PolicyMeter = {
    async ready() {
      const date = now().toISOString().slice(0, 10);
      if (day?.date === date) return;
      try {
        const loaded = await load(date);
        if (day?.date !== date) day = loaded;
      } finally {
        loading = undefined;
      }
    },
    reserve(micros, agentId) {
      const current = day;
      if (current === undefined) throw new Error("PolicyMeter.reserve before ready()");
      const session = sessionLeft();
      if (session !== null && micros > session) throw refuse("session_budget", micros, session, agentId);
      const today = dayLeft(current);
      if (today !== null && micros > today) throw refuse("daily_budget", micros, today, agentId);
      sessionReserved += micros;
      dayReserved += micros;
      let open = true;
      const close = () => {
        if (!open) return false;
        open = false;
        sessionReserved -= micros;
        dayReserved -= micros;
        return true;
      };
      return {
        commit(cost) {
          if (!close()) return;
          // What the broker charged is what counts, even above the reservation: the policy's
          // figures are never smaller than the money that moved.
          sessionSpent += cost;
          current.spent += cost;
        },
        release() {
          close();
        },
      };
    },
    remaining() {
      const session = sessionLeft();
      const today = day === undefined ? null : dayLeft(day);
      if (session === null) return today;
      if (today === null) return session;
      // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints.
      return session < today ? session : today;
    },
    figures() {
      const session = sessionLeft();
      const today = day === undefined ? null : dayLeft(day);
      return { session: session === null ? null : usd(session), today: today === null ? null : usd(today) };
    },
    async snapshot() {
      await meter.ready();
      const current = day as Day;
      const session = sessionLeft();
      const today = dayLeft(current);
      return {
        session: {
          spent_usd: formatUsd(sessionSpent),
          reserved_usd: formatUsd(sessionReserved),
          remaining_usd: session === null ? null : usd(session),
        },
        today: {
          date: current.date,
          spent_usd: formatUsd(current.spent),
          reserved_usd: formatUsd(dayReserved),
          remaining_usd: today === null ? null : usd(today),
        },
      };
    },
  };
  return meter;
}
