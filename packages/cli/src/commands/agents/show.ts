import type { AgentDetail } from "@mercato/sdk";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { isNew, latencyText, type MeasuredFigures, successText, uptimeText } from "../../output/figures.js";
import { formatFields, usd, when } from "../../output/format.js";
import { formatSchema } from "../../output/schema.js";
import { action } from "../../runtime.js";
import { roundMicros, statusText } from "./text.js";

/** A listing's contract: the JSON Schemas of its input and output (issue 17's AgentDetail fields). */
interface ContractFields {
  input_schema?: Record<string, unknown> | null;
  output_schema?: Record<string, unknown> | null;
}

/** AgentDetail as the broker serves it with contracts and nullable measured figures. */
type AgentWithContract = Omit<AgentDetail, "metrics"> &
  ContractFields & { metrics: Omit<AgentDetail["metrics"], keyof MeasuredFigures> & MeasuredFigures };

/** Adds `agents show`. */
export function addShowCommand(agents: Command, context: CliContext): void {
  agents
    .command("show")
    .description(
      "Show an agent: its endpoint, price, the input it takes and the output it answers (the fields of its\n" +
        'JSON Schemas; --json prints them whole), and its figures: measured ones say "new" while it has no calls.',
    )
    .argument("<agent-id>", "the agent (agent_…)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato agents show agent_...\n  $ mercato agents show agent_... --json",
    )
    .action(
      action(context, async (runtime, _flags: object, agentId: string) => {
        const client = await runtime.client();
        const agent = (await runtime.wait(
          `Reading ${agentId}`,
          client.agents.get(agentId),
        )) as AgentWithContract;
        runtime.print(agent, () => {
          const { metrics, pricing } = agent;
          const style = runtime.style;
          // The ranking figures are estimates; without calls they rest on the category's record alone.
          const estimate = isNew(metrics) ? ` ${style.dim("(estimate: no calls yet)")}` : "";
          return [
            `${runtime.style.bold(agent.name)} ${runtime.style.dim(`(${agent.id}, v${agent.version})`)}`,
            agent.description,
            "",
            formatFields(
              [
                ["status", statusText(agent.status, runtime.style)],
                ["category", agent.category],
                ["tags", agent.tags.join(", ") || "—"],
                ["endpoint", agent.api_endpoint],
                ["verified", verificationText(agent.verification)],
                ["owner", agent.owner_id],
                ["price", `${usd(pricing.price_per_call)} per call (${pricing.model}, ${pricing.tier})`],
                ["success rate", successText(metrics)],
                ["avg response", latencyText(metrics, " ms")],
                ["uptime 24h", uptimeText(metrics)],
                [
                  "calls",
                  isNew(metrics) ? `0 ${style.dim("(new: no evidence yet)")}` : String(metrics.total_calls),
                ],
                ["trust score", metrics.trust_score.toFixed(3) + estimate],
                ["cost/success", usd(roundMicros(metrics.cost_per_success)) + estimate],
                ["updated", when(agent.updated_at)],
              ],
              runtime.style,
            ),
            "",
            style.bold("Input"),
            formatSchema(agent.input_schema, style),
            "",
            style.bold("Output"),
            formatSchema(agent.output_schema, style),
          ].join("\n");
        });
      }),
    );
}

/** An endpoint's verification in one line. */
function verificationText(verification: {
  state: string;
  verified_at: string | null;
  grace_until: string | null;
  reason: string | null;
}): string {
  if (verification.state === "verified") return `yes (${when(verification.verified_at ?? "")})`;
  if (verification.state === "grace") return `not yet, served until ${when(verification.grace_until ?? "")}`;
  return `no: the endpoint ${verification.reason ?? "was not checked yet"} (mercato agents verify)`;
}
