import { formatUsd, parseUsd } from "@mercato/protocol";

/** ANSI styles, or the identity on a stream that shows no colour. */
export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const ansi = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;

/** The styles of a terminal that shows colour, or plain text. */
export function createStyle(color: boolean): Style {
  if (!color) {
    const plain = (text: string) => text;
    return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
  }
  return {
    bold: ansi(1, 22),
    dim: ansi(2, 22),
    red: ansi(31, 39),
    green: ansi(32, 39),
    yellow: ansi(33, 39),
    cyan: ansi(36, 39),
  };
}

/**
 * Whether to colour output: only on a terminal, never with `NO_COLOR` set or `--no-color`, always
 * with `FORCE_COLOR` set to anything but `0` (https://no-color.org, https://force-color.org).
 */
export function wantsColor(options: { isTTY: boolean; flag: boolean; env: NodeJS.ProcessEnv }): boolean {
  const { env } = options;
  if (!options.flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "") return env.FORCE_COLOR !== "0";
  return options.isTTY && env.TERM !== "dumb";
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are control characters.
const ANSI = /\u001b\[[0-9;]*m/g;

/** The width of text on a terminal: its characters without colour codes. */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, "")].length;
}

/** A column of {@link formatTable}. */
export interface Column {
  title: string;
  /** Numbers and money read better right-aligned. */
  align?: "left" | "right";
}

/**
 * Rows as an aligned plain-text table with a header line, two spaces between columns, no
 * trailing spaces. Colour codes in cells do not count towards widths.
 */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  style: Style,
): string {
  const widths = columns.map((column, index) =>
    Math.max(visibleWidth(column.title), ...rows.map((row) => visibleWidth(row[index] ?? ""))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => {
        const pad = " ".repeat(Math.max(0, (widths[index] ?? 0) - visibleWidth(cell)));
        return columns[index]?.align === "right" ? pad + cell : cell + pad;
      })
      .join("  ")
      .trimEnd();
  return [style.bold(line(columns.map((column) => column.title))), ...rows.map(line)].join("\n");
}

/** Label-value lines with the values aligned, e.g. a balance. */
export function formatFields(fields: readonly (readonly [string, string])[], style: Style): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${style.dim(label.padEnd(width))}  ${value}`).join("\n");
}

/**
 * An amount of USD for people: `$0.02`, `$0.0125`, `$1,234.50`. At least two decimals, at most
 * six (the ledger's precision), never a float on the way: display numbers go through `parseUsd`.
 */
export function usd(amount: string | number | bigint): string {
  const micros = typeof amount === "bigint" ? amount : parseUsd(amount);
  const negative = micros < 0n;
  const [whole = "0", fraction = ""] = formatUsd(negative ? -micros : micros).split(".");
  const decimals = fraction.replace(/0+$/, "").padEnd(2, "0");
  return `${negative ? "-" : ""}$${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${decimals}`;
}

/** A share in [0, 1] as a percentage with one decimal: `97.5%`. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** A timestamp as `2026-11-24 03:04:05Z` (UTC, to the second), or `—` for none. */
export function when(timestamp: string | null | undefined): string {
  if (timestamp === null || timestamp === undefined) return "—";
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  return `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** Pretty JSON, two spaces, with a final newline. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
