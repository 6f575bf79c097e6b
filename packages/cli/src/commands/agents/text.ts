import type { Style } from "../../output/format.js";

/** A display figure of USD (cost per success is a ratio) rounded to the ledger's micro-USD. */
export function roundMicros(value: number): string {
  return (Math.round(value * 1_000_000) / 1_000_000).toFixed(6);
}

/** A listing's status, green when active, red when down, dim otherwise. */
export function statusText(status: string, style: Style): string {
  if (status === "active") return style.green(status);
  if (status === "down") return style.red(status);
  return style.dim(status);
}

/** What to do about a listing whose endpoint is not verified yet. */
export function pendingHelp(
  agentId: string,
  verification: { reason: string | null; challenge_url: string | null },
  style: Style,
): string[] {
  return [
    `  Why: the endpoint ${verification.reason ?? "was not checked yet"}.`,
    "  To fix it: run your endpoint behind the seller kit with your account id,",
    `    sellerKit({ …, owner: "acct_…" })   (your id: mercato account show), or agents: ["${agentId}"];`,
    ...(verification.challenge_url === null
      ? []
      : [
          "  or, without the kit, answer GET",
          `    ${verification.challenge_url}`,
          '    with {"token": "<the last part of that URL>", "owner": "<your account id>"} (see docs/sellers.md).',
        ]),
    `  Then: ${style.bold(`mercato agents verify ${agentId}`)}`,
  ];
}
