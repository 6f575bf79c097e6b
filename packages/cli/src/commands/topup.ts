import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { usd } from "../output/format.js";
import { parseUsdFlag } from "../parse.js";
import { action } from "../runtime.js";

/** Adds `topup <usd>`: a Stripe Checkout URL to pay at, or an instant credit on a dev broker. */
export function addTopupCommand(program: Command, context: CliContext): void {
  program
    .command("topup")
    .summary("Add money to the wallet (a Checkout URL, or at once in dev mode)")
    .description(
      "Add money to the wallet: at least 10 USD, whole cents. Prints the Stripe Checkout URL to pay at\n" +
        "(the wallet is credited once Stripe confirms the payment); a dev broker credits at once.",
    )
    .argument("<usd>", "amount in USD, e.g. 25 or 25.00")
    .addHelpText("after", "\nExamples:\n  $ mercato topup 25\n  $ mercato topup 100.00 --json")
    .action(
      action(context, async (runtime, _flags: object, amount: string) => {
        const amountUsd = parseUsdFlag("<usd>", amount);
        const client = await runtime.client({ needKey: true });
        const topup = await runtime.wait("Starting the top-up", client.topups.create({ amountUsd }));
        if (topup.status === "succeeded") {
          const balance = await client.balance();
          runtime.print({ ...topup, available_usd: balance.available_usd }, () =>
            [
              `${runtime.style.green("✓")} Credited ${usd(topup.amount_usd)} (${topup.topup_id}).`,
              ...(topup.note ? [runtime.style.dim(topup.note)] : []),
              `Available: ${runtime.style.bold(usd(balance.available_usd))}`,
            ].join("\n"),
          );
          return;
        }
        runtime.print(topup, () =>
          [
            `Pay ${usd(topup.amount_usd)} at:`,
            `  ${runtime.style.cyan(topup.checkout_url ?? "(no checkout URL)")}`,
            `The wallet is credited once the payment is confirmed (${topup.topup_id}); then see it with \`mercato balance\`.`,
          ].join("\n"),
        );
      }),
    );
}
