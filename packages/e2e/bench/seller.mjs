// The benchmark's seller: a trivial handler behind the seller kit's Node adapter, in its own
// process. It trusts the broker's keys and the bench's own key (JWKS in $BENCH_JWKS), so that the
// direct run pays the same signature check as the proxied one. A call whose input has `field0`
// (the contract bench's 1 KB record) is answered with its input.
import { createServer } from "node:http";
import { sellerKit } from "@mercato/seller-kit";

const kit = sellerKit({
  broker: process.env.BENCH_BROKER_URL,
  owner: process.env.BENCH_OWNER,
  jwks: JSON.parse(process.env.BENCH_JWKS),
  // A contract bench call (20 fields, about 1 KB) gets its input back: 1 KB of output.
  handler: async (input) =>
    input?.field0 === undefined ? { price_usd: "64123.50", symbol: input?.symbol ?? "BTC" } : input,
});
const server = createServer(kit.node);
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
