// The README quickstart's seller: a summarizer behind @mercato/seller-kit on http://127.0.0.1:5050.
// It accepts only calls the broker signed (keys from $MERCATO_URL/.well-known/jwks.json) for the
// listings of your account, and answers the broker's endpoint challenge naming your account.
// Its contract (the zod `input` and `output` below) is served as JSON Schema at
// http://127.0.0.1:5050/summarize/.well-known/mercato-contract for `mercato agents register --from-kit`.
//
//   npx turbo run build --filter=@mercato/seller-kit && node examples/quickstart-seller.mjs acct_…
//
// The account id is the one `mercato account create` (or `mercato account show`) prints; it may
// also come from $MERCATO_OWNER. $PORT moves it off 5050 (0: any free port).
import { createServer } from "node:http";
import { sellerKit } from "@mercato/seller-kit";
import * as z from "zod";

const broker = process.env.MERCATO_URL ?? "http://127.0.0.1:4020";
const owner = process.argv[2] ?? process.env.MERCATO_OWNER;
const port = Number(process.env.PORT ?? "5050");
if (!owner?.startsWith("acct_")) {
  console.error(
    "usage: node examples/quickstart-seller.mjs acct_…   (your account id: mercato account show)",
  );
  process.exit(2);
}
const kit = sellerKit({
  broker,
  owner,
  input: z.object({ text: z.string().optional().describe("The text to summarize") }),
  // The seller's honest promise: a summary is never empty. An input without text gets the useless
  // {"summary": "", "words": 0} from the handler below; the kit refuses it as the seller's failure
  // (500, unpaid) instead of selling it.
  output: z.object({
    summary: z.string().min(1).describe("The text's first twelve words"),
    words: z.number().int().positive().describe("Words in the text"),
  }),
  handler: async ({ text = "" }) => {
    const words = text.split(/\s+/).filter(Boolean);
    return { summary: words.slice(0, 12).join(" ") + (words.length > 12 ? "…" : ""), words: words.length };
  },
});
const server = createServer(kit.node).listen(port, "127.0.0.1", () => {
  const url = `http://127.0.0.1:${server.address().port}/summarize`;
  console.log(`seller listening on ${url} (trusting ${broker}, serving ${owner})`);
});
setInterval(() => console.log("stats", JSON.stringify(kit.stats())), 30_000).unref();
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
