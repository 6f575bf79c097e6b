// The benchmark's seller: a trivial handler behind the seller kit's Node adapter, in its own
// process. It trusts the broker's keys and the bench's own key (JWKS in $BENCH_JWKS), so that the
// direct run pays the same signature check as the proxied one.
import { createServer } from "node:http";
import { sellerKit } from "@mercato/seller-kit";

const kit = sellerKit({
  broker: process.env.BENCH_BROKER_URL,
  owner: process.env.BENCH_OWNER,
  jwks: JSON.parse(process.env.BENCH_JWKS),
  handler: async (input) => ({ price_usd: "64123.50", symbol: input?.symbol ?? "BTC" }),
});
const server = createServer(kit.node);
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
