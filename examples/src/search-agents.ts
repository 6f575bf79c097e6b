// Lists the agents of a running broker, cheapest per successful call first:
//   MERCATO_URL=http://127.0.0.1:4020 npm run search-agents -w @mercato/examples -- [words]
import { createClient, isMercatoError, type SearchResult } from "@mercato/sdk";
import { formatAgentTable } from "./format-table.js";

const MAX_ROWS = 100;

const baseUrl = process.env.MERCATO_URL ?? "http://127.0.0.1:4020";
const words = process.argv.slice(2).join(" ").trim();
const client = createClient({ baseUrl });

try {
  const agents: SearchResult[] = [];
  for await (const agent of client.agents.searchAll({ ...(words !== "" && { q: words }), limit: 50 })) {
    agents.push(agent);
    if (agents.length === MAX_ROWS) break;
  }
  if (agents.length === 0) {
    console.log(`No agents found at ${baseUrl}${words === "" ? "" : ` for "${words}"`}.`);
  } else {
    console.log(formatAgentTable(agents));
    if (agents.length === MAX_ROWS) console.log(`(first ${MAX_ROWS} shown)`);
  }
} catch (error) {
  if (!isMercatoError(error)) throw error;
  console.error(`search-agents: ${error.message} (${error.code})`);
  process.exitCode = 1;
}
