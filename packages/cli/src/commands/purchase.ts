import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { usd } from "../output/format.js";
import { parseInteger, parseTimestamp, parseUsdFlag } from "../parse.js";
import { action } from "../runtime.js";

interface PurchaseFlags {
  name?: string;
  spendCap?: string;
  rateLimit?: string;
  expires?: string;
}

/** Adds `purchase <agent-id>`: buys per-call access, keeping the access key for `mercato invoke`. */
export function addPurchaseCommand(program: Command, context: CliContext): void {
  program
    .command("purchase")
    .summary("Buy per-call access to an agent")
    .description(
      "Buy per-call access to an agent. Buying is free; each successful call is charged the agent's\n" +
        "price. The access key (sk_live_…, or sk_test_… from a dev broker) is printed once and kept in the config for `mercato invoke`.",
    )
    .argument("<agent-id>", "the agent (agent_…), as `mercato agents search` lists it")
    .option("--name <name>", "a name for the access key")
    .option("--spend-cap <usd>", "most this key may ever spend, e.g. 5.00")
    .option("--rate-limit <n>", "calls per minute this key may make (default: the broker's)")
    .option("--expires <when>", "when the key stops working: a date or ISO 8601 timestamp")
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato purchase agent_...\n  $ mercato purchase agent_... --spend-cap 5 --rate-limit 60 --json",
    )
    .action(
      action(context, async (runtime, flags: PurchaseFlags, agentId: string) => {
        const spendCapUsd =
          flags.spendCap === undefined ? undefined : parseUsdFlag("--spend-cap", flags.spendCap);
        const rateLimit =
          flags.rateLimit === undefined
            ? undefined
            : parseInteger("--rate-limit", flags.rateLimit, 1, 1_000_000);
        const expiresAt =
          flags.expires === undefined ? undefined : parseTimestamp("--expires", flags.expires);
        const client = await runtime.client({ needKey: true });
        const bought = await runtime.wait(
          `Buying access to ${agentId}`,
          client.purchase(agentId, {
            ...(flags.name !== undefined && { name: flags.name }),
            ...(spendCapUsd !== undefined && { spendCapUsd }),
            ...(rateLimit !== undefined && { rateLimit }),
            ...(expiresAt !== undefined && { expiresAt }),
          }),
        );
        const kept = (await runtime.config.read()).access_keys?.[agentId] === bought.api_key;
        runtime.print({ ...bought, saved_to_config: kept }, () =>
          [
            `${runtime.style.green("✓")} Bought access to ${agentId} at ${usd(bought.price_per_call_usd)} per successful call.`,
            "Access key, shown once:",
            `  ${runtime.style.bold(bought.api_key)}`,
            `Endpoint: ${bought.endpoint}`,
            kept
              ? `Kept in ${runtime.config.path}: \`mercato invoke ${agentId} --input '{…}'\` uses it.`
              : "Not kept in the config (you used a key other than the logged-in one): store it yourself.",
          ].join("\n"),
        );
      }),
    );
}
