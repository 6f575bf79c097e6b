// `npm run demo`: a broker, seven crypto sellers and a buyer agent on this machine, with no internet.
// It starts a dev-mode broker on a temporary SQLite file, the five seller programs (the news
// summarizer twice: a reliable "Pro" and a cheaper, flaky "Digest") and the quickstart seller (a
// brand-new, cheaper "Lite" summarizer whose answers to a topic are empty, which its own output
// schema refuses), registers them with the schemas their seller kits serve, shows one listing's
// contract as `mercato agents show` prints it, gives the market a history of calls from many buyers
// (none to the new one), lets the buyer agent pick by cost per success and call, runs the README's
// `client.call()` snippet, then shows the ranking ("new" listings included), the money (charges,
// the 10% fee, seller earnings) and the ledger audit, and stops it all.
//
//   node examples/dist/demo.js [--calls 20] [--port 0] [--keep-running]
//
// Its steps live in src/demo/: options.ts (the command line), processes.ts (child processes and the
// CLI), market-plan.ts (the sellers and their history), start-market.ts (broker and sellers),
// market-history.ts (the other buyers' calls), buyer-scenario.ts (the buyer agent and the README's
// call), report.ts (ranking, money, audit), with context.ts (the output and what the steps share)
// and broker-metrics.ts (search's figures); this file runs them in order and prints the end.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { isMercatoError } from "@mercato/protocol";
import { createClient } from "@mercato/sdk";
import { runBuyer, runReadmeCall } from "./demo/buyer-scenario.js";
import { createOutput, type DemoContext } from "./demo/context.js";
import { makeHistory, waitForHistory } from "./demo/market-history.js";
import { type DemoOptions, parseOptions } from "./demo/options.js";
import { cliBin, Resources } from "./demo/processes.js";
import { printAudit, printMoney, printRanking } from "./demo/report.js";
import { printSellers, startBroker, startSellers } from "./demo/start-market.js";

/** The demo, start to end; returns the exit status. */
async function runDemo(
  options: DemoOptions,
  resources: Resources,
  untilStopped: () => Promise<void>,
): Promise<number> {
  const out = createOutput((text) => process.stdout.write(text));
  const started = Date.now();
  const adminToken = randomBytes(16).toString("hex");
  const problems: string[] = [];

  out.line("Mercato demo: a broker, seven crypto sellers and a buyer agent on this machine (no internet).");

  out.heading("Broker");
  const brokerUrl = await startBroker(out, resources, options.port, adminToken);
  const demo: DemoContext = { out, problems, brokerUrl, anonymous: createClient({ baseUrl: brokerUrl }) };

  out.heading("Sellers");
  // The seller programs are built next to this file (dist/demo.js, dist/sellers/*.js).
  const sellers = await startSellers(demo, resources, dirname(fileURLToPath(import.meta.url)));
  const { agents, agentName } = sellers;
  await printSellers(demo, agents, resources);

  out.heading("Market history");
  const ranked = await makeHistory(demo, agents);
  await waitForHistory(demo, agents, ranked);

  out.heading("Buyer agent");
  const buyer = await runBuyer(demo, agents, options.calls);
  const pro = agents.find((agent) => agent.plan.key === "pro");

  out.heading("The README's client.call()");
  const readmeAgentId = await runReadmeCall(demo, agents, agentName);

  out.heading("Ranking (crypto, by cost per success)");
  await printRanking(demo, agents, buyer.report, readmeAgentId);

  out.heading("Money");
  await printMoney(demo, buyer.client, sellers.client, buyer.report, agentName);

  out.heading("Ledger audit");
  await printAudit(demo, adminToken);

  out.line();
  if (problems.length > 0) {
    out.line("Problems:");
    for (const problem of problems) out.line(`  - ${problem}`);
  }
  out.line(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);

  if (options.keepRunning) {
    const tx = await buyer.client.transactions.list({ role: "buyer", limit: 1 });
    const txnId = tx.data[0]?.id ?? "txn_…";
    out.line();
    out.line("Still running. Explore it from another terminal with the CLI:");
    out.block(
      [
        `alias mercato="node ${cliBin()}"`,
        `mercato login --url ${brokerUrl} --key ${buyer.account.api_key}   # the buyer's account key`,
        "mercato balance",
        "mercato transactions",
        "mercato agents search --category crypto --tag news",
        `mercato invoke ${pro?.agentId ?? "agent_…"} --input '{"topic": "bitcoin"}'`,
        `mercato receipts verify ${txnId}`,
        `curl -s ${brokerUrl}/admin/audit -H "authorization: Bearer ${adminToken}"`,
      ].join("\n"),
      "   $ ",
    );
    out.line(`   the seller account's key: ${sellers.account.api_key}; API docs at ${brokerUrl}/docs`);
    out.line("Press Ctrl-C to stop everything.");
    await untilStopped();
  }
  return problems.length === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  let options: DemoOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const resources = new Resources();
  // Whatever ends this process (a crash, a reader that closed the pipe: `npm run demo | head`), the
  // children must not outlive it: the last chance is synchronous.
  process.on("exit", () => {
    for (const child of resources.children) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGTERM");
    }
    rmSync(resources.dir, { recursive: true, force: true });
  });
  // A closed standard output is not a reason to leave the demo half-stopped: writes are dropped.
  process.stdout.on("error", () => undefined);
  // Ctrl-C or SIGTERM: once the demo is only waiting (--keep-running), it stops normally; before
  // that, everything is stopped at once and the process exits 130 or 143.
  let waiting = false;
  let interrupted = false;
  let stopWaiting = () => {};
  const stopped = new Promise<void>((done) => {
    stopWaiting = done;
  });
  const untilStopped = () => {
    waiting = true;
    return stopped;
  };
  const interrupt = (signal: NodeJS.Signals) => {
    if (waiting) {
      stopWaiting();
      return;
    }
    interrupted = true;
    process.stderr.write(`\ndemo: ${signal}, stopping the broker and the sellers…\n`);
    void resources.close().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);

  let status = 1;
  try {
    status = await runDemo(options, resources, untilStopped);
  } catch (error) {
    // Interrupted: the failure is the clean-up stopping the children under the demo's feet.
    if (interrupted) return;
    const detail = isMercatoError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ndemo failed: ${detail}\n`);
    if (!isMercatoError(error) && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack.split("\n").slice(1).join("\n")}\n`);
    }
  } finally {
    await resources.close();
  }
  const sellers = resources.children.filter((child) => child.label !== "broker").length;
  process.stdout.write(`Stopped the broker and ${sellers} sellers; removed ${resources.dir}.\n`);
  process.exitCode = status;
}

await main();
