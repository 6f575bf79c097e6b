import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { json, usd } from "../output/format.js";
import { parseInteger, readJsonArgument } from "../parse.js";
import { action } from "../runtime.js";

interface InvokeFlags {
  input: string;
  timeout?: string;
  idempotencyKey?: string;
}

/** Adds `invoke <agent-id>`: one paid call through the broker. */
export function addInvokeCommand(program: Command, context: CliContext): void {
  program
    .command("invoke")
    .summary("Call an agent and print its output; only success is charged")
    .description(
      "Call an agent through the broker and print its output. Uses the access key kept by\n" +
        "`mercato purchase`, or buys one first. Only a successful call is charged; the charge, its\n" +
        "transaction and latency go to standard error (all of it to standard output with --json).",
    )
    .argument("<agent-id>", "the agent (agent_…)")
    .requiredOption("--input <json>", "the seller's input: JSON inline, @file.json, or - for standard input")
    .option("--timeout <ms>", "how long the broker waits for the seller (default: the broker's, 10000)")
    .option(
      "--idempotency-key <key>",
      "retrying with the same key is answered the first outcome, never charged twice",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ mercato invoke agent_... --input '{"text": "Bitcoin rose 4% today"}'
  $ mercato invoke agent_... --input @question.json --timeout 5000 --idempotency-key q-42
  $ echo '{"symbol": "BTC"}' | mercato invoke agent_... --input - --json | jq .output`,
    )
    .action(
      action(context, async (runtime, flags: InvokeFlags, agentId: string) => {
        const input = await readJsonArgument(runtime.context, "--input", flags.input);
        const timeoutMs =
          flags.timeout === undefined ? undefined : parseInteger("--timeout", flags.timeout, 1, 600_000);
        const client = await runtime.client({ needKey: true });
        const answer = await runtime.wait(
          `Calling ${agentId}`,
          client.invoke(agentId, input, {
            ...(timeoutMs !== undefined && { timeoutMs }),
            ...(flags.idempotencyKey !== undefined && { idempotencyKey: flags.idempotencyKey }),
          }),
        );
        if (runtime.json) {
          runtime.context.stdout(json(answer));
          return;
        }
        runtime.context.stdout(json(answer.output));
        runtime.note(
          runtime.style.dim(
            `Paid ${usd(answer.cost_usd)} · ${answer.transaction_id} · ${answer.metrics.response_time_ms} ms · ` +
              `receipt: mercato receipts verify ${answer.transaction_id}`,
          ),
        );
      }),
    );
}
