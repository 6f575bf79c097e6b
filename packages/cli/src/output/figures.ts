import { percent } from "./format.js";

/**
 * A listing's measured figures as the broker serves them (AgentMetrics, SearchResult): a figure is
 * `null` when nothing was measured, and `total_calls` 0 means the listing is new: no evidence yet.
 */
export interface MeasuredFigures {
  success_rate: number | null;
  avg_response_time_ms: number | null;
  uptime_24h: number | null;
  total_calls: number;
}

/** What a listing without calls shows instead of figures it has no evidence for. */
export const NEW_LISTING = "new";
/** What a figure that was not measured shows. */
export const NOT_MEASURED = "—";

/** True for a listing with no calls yet. */
export function isNew(figures: Pick<MeasuredFigures, "total_calls">): boolean {
  return figures.total_calls === 0;
}

/** The success rate as people read it: `97.5%`, `new` without calls, `—` when not measured. */
export function successText(figures: MeasuredFigures): string {
  if (isNew(figures)) return NEW_LISTING;
  return figures.success_rate === null ? NOT_MEASURED : percent(figures.success_rate);
}

/** The mean response time in whole ms (with `unit`, ` ms`), `new` without calls, `—` when not measured. */
export function latencyText(figures: MeasuredFigures, unit = ""): string {
  if (isNew(figures)) return NEW_LISTING;
  const ms = figures.avg_response_time_ms;
  return ms === null ? NOT_MEASURED : `${Math.round(ms)}${unit}`;
}

/** Uptime over 24 h, from the broker's health checks (not calls): `—` without checks. */
export function uptimeText(figures: MeasuredFigures): string {
  return figures.uptime_24h === null ? NOT_MEASURED : percent(figures.uptime_24h);
}
