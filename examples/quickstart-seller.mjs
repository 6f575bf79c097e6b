// The README quickstart's seller: a summarizer behind @mercato/seller-kit on http://127.0.0.1:5050.
// It accepts only calls the broker signed (keys from $MERCATO_URL/.well-known/jwks.json).
//
//   npx turbo run build --filter=@mercato/seller-kit && node examples/quickstart-seller.mjs
import { createServer } from "node:http";
import { sellerKit } from "@mercato/seller-kit";

const broker = process.env.MERCATO_URL ?? "http://127.0.0.1:4020";
const kit = sellerKit({
  broker,
  handler: async (input) => {
    const text = typeof input?.text === "string" ? input.text : "";
    const words = text.split(/\s+/).filter(Boolean);
    return { summary: words.slice(0, 12).join(" ") + (words.length > 12 ? "…" : ""), words: words.length };
  },
});
createServer(kit.node).listen(5050, "127.0.0.1", () => {
  console.log(`seller listening on http://127.0.0.1:5050/summarize (trusting ${broker})`);
});
setInterval(() => console.log("stats", JSON.stringify(kit.stats())), 30_000).unref();
