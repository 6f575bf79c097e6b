import { MercatoError } from "@mercato/protocol/errors";
import { formatUsd, parseUsd } from "@mercato/protocol/money";

/** Money set aside for one attempt: spend it (`commit`) or give it back (`release`), once. */
export interface BudgetReservation {
  /** Records what the attempt cost (at most the reserved amount) and frees the rest. */
  commit(micros: bigint): void;
  /** Frees the reservation: the attempt cost nothing. */
  release(): void;
}

/**
 * A spending limit in USD that the SDK checks before every paid attempt. Shared by as many calls as
 * you like, concurrent ones included: an attempt reserves its price first, so two calls can never
 * together pass the limit. Amounts are exact (integer micro-USD inside, decimal strings outside).
 */
export interface Budget {
  /** The limit, e.g. `"5.000000"`. */
  readonly limitUsd: string;
  /** What successful calls cost so far. */
  readonly spentUsd: string;
  /** Set aside for attempts in flight. */
  readonly reservedUsd: string;
  /** limit − spent − reserved. */
  readonly remainingUsd: string;
  /** The same figures in micro-USD. */
  readonly limitMicros: bigint;
  readonly spentMicros: bigint;
  readonly reservedMicros: bigint;
  readonly remainingMicros: bigint;
  /** Sets aside `micros` when the remaining budget covers it; undefined when it does not. */
  reserve(micros: bigint): BudgetReservation | undefined;
}

/**
 * A budget of `limit` USD (a decimal string or number, at most 6 decimals).
 *
 * @throws MercatoError `INVALID_AMOUNT` for a negative, malformed or over-precise limit.
 * @example
 * const budget = createBudget("2.50");
 * await client.call({ category: "crypto", input, budget });
 * console.log(budget.spentUsd, budget.remainingUsd);
 */
export function createBudget(limit: string | number): Budget {
  const limitMicros = parseUsd(limit);
  let spent = 0n;
  let reserved = 0n;
  return {
    get limitUsd() {
      return formatUsd(limitMicros);
    },
    get spentUsd() {
      return formatUsd(spent);
    },
    get reservedUsd() {
      return formatUsd(reserved);
    },
    get remainingUsd() {
      return formatUsd(limitMicros - spent - reserved);
    },
    limitMicros,
    get spentMicros() {
      return spent;
    },
    get reservedMicros() {
      return reserved;
    },
    get remainingMicros() {
      return limitMicros - spent - reserved;
    },
    reserve(micros) {
      if (micros < 0n) throw new MercatoError("INVALID_AMOUNT", "A reservation cannot be negative");
      if (limitMicros - spent - reserved < micros) return undefined;
      reserved += micros;
      let open = true;
      return {
        commit(cost) {
          if (!open) return;
          open = false;
          reserved -= micros;
          // An attempt never costs more than it reserved: the price was checked before the call.
          // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints.
          spent += cost < micros ? cost : micros;
        },
        release() {
          if (!open) return;
          open = false;
          reserved -= micros;
        },
      };
    },
  };
}

/** Reserves `micros` on every budget, or on none when one of them cannot cover it. */
export function reserveAll(budgets: Budget[], micros: bigint): BudgetReservation | undefined {
  const taken: BudgetReservation[] = [];
  for (const budget of budgets) {
    const reservation = budget.reserve(micros);
    if (!reservation) {
      for (const t of taken) t.release();
      return undefined;
    }
    taken.push(reservation);
  }
  return {
    commit: (cost) => {
      for (const t of taken) t.commit(cost);
    },
    release: () => {
      for (const t of taken) t.release();
    },
  };
}

/** `BUDGET_EXCEEDED` for an attempt the tightest of `budgets` cannot pay for: nothing was spent. */
export function budgetError(budgets: Budget[], price: bigint, agentId: string): MercatoError {
  const tight = budgets.reduce((a, b) => (b.remainingMicros < a.remainingMicros ? b : a));
  return new MercatoError(
    "BUDGET_EXCEEDED",
    `A call to ${agentId} costs ${formatUsd(price)} USD but the budget has ${tight.remainingUsd} USD left; nothing was spent`,
    { details: { agent_id: agentId, price_usd: formatUsd(price), remaining_usd: tight.remainingUsd } },
  );
}
