import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatFields, usd, when } from "../output/format.js";
import { action } from "../runtime.js";

/** Adds `receipts verify <transaction-id>`: the broker's signed receipt, checked offline. */
export function addReceiptsCommands(program: Command, context: CliContext): void {
  const receipts = program
    .command("receipts")
    .description("Check the signed receipts of charges")
    .addHelpText("after", "\nExample:\n  $ mercato receipts verify txn_...");

  receipts
    .command("verify")
    .summary("Check a charge's signed receipt against the broker's keys")
    .description(
      "Fetch the receipt of a charge and check its Ed25519 signature against the broker's published\n" +
        "keys (/.well-known/jwks.json). Exits 1 when the receipt does not verify.",
    )
    .argument("<transaction-id>", "the charge (txn_…), as `mercato transactions` lists it")
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato receipts verify txn_...\n  $ mercato receipts verify txn_... --json",
    )
    .action(
      action(context, async (runtime, _flags: object, transactionId: string) => {
        const client = await runtime.client({ needKey: true });
        const { receipt, payload } = await runtime.wait(
          "Verifying the receipt",
          (async () => {
            const fetched = await client.receipts.get(transactionId);
            return { receipt: fetched, payload: await client.receipts.verify(fetched) };
          })(),
        );
        const kid = readKid(receipt.jws);
        runtime.print({ valid: true, kid, payload, jws: receipt.jws }, () =>
          [
            `${runtime.style.green("✓")} Valid receipt: signed by ${payload.issuer}${kid ? ` (key ${kid})` : ""}.`,
            formatFields(
              [
                ["transaction", payload.transaction_id],
                [
                  "amount",
                  `${usd(payload.amount_usd)} (fee ${usd(payload.fee_usd)}, seller ${usd(payload.seller_share_usd)})`,
                ],
                ["buyer", payload.buyer_id],
                ["seller", `${payload.agent_id} (account ${payload.seller_account_id})`],
                ["captured", when(payload.captured_at)],
              ],
              runtime.style,
            ),
          ].join("\n"),
        );
      }),
    );
}

/** The `kid` of a compact JWS's protected header, when it has one. */
function readKid(jws: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(jws.split(".")[0] ?? "", "base64url").toString("utf8")) as {
      kid?: unknown;
    };
    return typeof header.kid === "string" ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
