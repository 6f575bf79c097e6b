import { formatUsd, parseUsd } from "@mercato/protocol";
import type { SearchResult } from "@mercato/sdk";

/** One column of a {@link formatTable} table. */
export interface Column<Row> {
  /** The header, printed as it is. */
  title: string;
  /** The text of this column for one row. */
  cell: (row: Row) => string;
  /** Right-align the column (numbers, amounts); left by default. */
  right?: boolean;
}

/**
 * Rows as a plain-text table: a header line, then one line per row in the order given, columns
 * padded to their widest cell and two spaces apart, trailing spaces trimmed. Widths count UTF-16
 * code units, so keep cells to characters one column wide.
 *
 * @example
 * formatTable([{ title: "NAME", cell: (r) => r.name }, { title: "N", cell: (r) => String(r.n), right: true }], rows);
 */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const lines = [
    columns.map((column) => column.title),
    ...rows.map((row) => columns.map((c) => c.cell(row))),
  ];
  const widths = columns.map((_, index) => Math.max(...lines.map((line) => (line[index] ?? "").length)));
  return lines
    .map((line) =>
      line
        .map((text, index) => {
          const width = widths[index] ?? 0;
          return columns[index]?.right ? text.padStart(width) : text.padEnd(width);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** A fraction (0–1) as a percentage with one decimal: `0.5412` → `"54.1%"`. */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/**
 * A listing's figures as the broker serves them: the measured success rate is `null` without data,
 * and `total_calls` 0 means a new listing, with no evidence yet.
 */
export interface MeasuredFigures {
  success_rate: number | null;
  total_calls: number;
}

/** The measured success rate for people: `97.5%`, `new` without calls, `—` when not measured. */
export function successText(agent: MeasuredFigures): string {
  if (agent.total_calls === 0) return "new";
  return agent.success_rate === null ? "—" : percent(agent.success_rate);
}

/**
 * An exact USD amount (micros, or a decimal string such as the SDK's `cost_usd`) for display, with
 * `$` and the trailing zeros cut down to `minDecimals`: `"0.020000"` → `"$0.020"`, `1200n` → `"$0.0012"`.
 *
 * @throws MercatoError `INVALID_AMOUNT` for a string that is not a USD amount.
 */
export function usd(amount: bigint | string, minDecimals = 3): string {
  const text = formatUsd(typeof amount === "string" ? parseUsd(amount) : amount);
  const [whole, fraction = ""] = text.split(".");
  const kept = fraction.replace(/0+$/, "").padEnd(minDecimals, "0");
  return `$${whole}${kept === "" ? "" : `.${kept}`}`;
}

/** The columns `search-agents` prints for search results. */
export const AGENT_COLUMNS: readonly Column<SearchResult>[] = [
  { title: "AGENT", cell: (agent) => agent.agent_id },
  { title: "NAME", cell: (agent) => agent.name },
  { title: "CATEGORY", cell: (agent) => agent.category },
  { title: "PRICE/CALL", cell: (agent) => `$${agent.price_per_call.toFixed(6)}`, right: true },
  { title: "SUCCESS", cell: (agent) => successText(agent), right: true },
  { title: "TRUST", cell: (agent) => agent.trust_score.toFixed(3), right: true },
  { title: "COST/SUCCESS", cell: (agent) => `$${agent.cost_per_success.toFixed(6)}`, right: true },
];

/** Search results as a plain-text table, one agent a line, in the order given. */
export function formatAgentTable(agents: readonly SearchResult[]): string {
  return formatTable(AGENT_COLUMNS, agents);
}
