// The README quickstart's seller: a summarizer behind @mercato/seller-kit on http://127.0.0.1:5050.
// It accepts only calls the broker signed (keys from $MERCATO_URL/.well-known/jwks.json) for the
// listings of your account, and answers the broker's endpoint challenge naming your account.
//
//   npx turbo run build --filter=@mercato/seller-kit && node examples/quickstart-seller.mjs acct_…
//
// The account id is the one `mercato account create` (or `mercato account show`) prints; it may
// also come from $MERCATO_OWNER.
import { createServer } from "node:http";
import { sellerKit } from "@mercato/seller-kit";

const broker = process.env.MERCATO_URL ?? "http://127.0.0.1:4020";
const owner = process.argv[2] ?? process.env.MERCATO_OWNER;
if (!owner?.startsWith("acct_")) {
  console.error(
    "usage: node examples/quickstart-seller.mjs acct_…   (your account id: mercato account show)",
  );
  process.exit(2);
}
const kit = sellerKit({
  broker,
  owner,
  handler: async (input) => {
    const text = typeof input?.text === "string" ? input.text : "";
    const words = text.split(/\s+/).filter(Boolean);
    return { summary: words.slice(0, 12).join(" ") + (words.length > 12 ? "…" : ""), words: words.length };
  },
});
createServer(kit.node).listen(5050, "127.0.0.1", () => {
  console.log(`seller listening on http://127.0.0.1:5050/summarize (trusting ${broker}, serving ${owner})`);
});
setInterval(() => console.log("stats", JSON.stringify(kit.stats())), 30_000).unref();
