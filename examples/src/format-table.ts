import type { SearchResult } from "@mercato/sdk";

const COLUMNS: { title: string; cell: (agent: SearchResult) => string; right?: boolean }[] = [
  { title: "AGENT", cell: (agent) => agent.agent_id },
  { title: "NAME", cell: (agent) => agent.name },
  { title: "CATEGORY", cell: (agent) => agent.category },
  { title: "PRICE/CALL", cell: (agent) => `$${agent.price_per_call.toFixed(6)}`, right: true },
  { title: "SUCCESS", cell: (agent) => `${(agent.success_rate * 100).toFixed(1)}%`, right: true },
  { title: "TRUST", cell: (agent) => agent.trust_score.toFixed(3), right: true },
  { title: "COST/SUCCESS", cell: (agent) => `$${agent.cost_per_success.toFixed(6)}`, right: true },
];

/** Search results as a plain-text table, one agent a line, in the order given. */
export function formatTable(agents: readonly SearchResult[]): string {
  const rows = [COLUMNS.map((column) => column.title), ...agents.map((a) => COLUMNS.map((c) => c.cell(a)))];
  const widths = COLUMNS.map((_, index) => Math.max(...rows.map((row) => (row[index] ?? "").length)));
  return rows
    .map((row) =>
      row
        .map((text, index) => {
          const width = widths[index] ?? 0;
          return COLUMNS[index]?.right ? text.padStart(width) : text.padEnd(width);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
