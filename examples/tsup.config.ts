import { defineConfig } from "tsup";

const SELLERS = ["news-summarizer", "price-oracle", "sentiment-scorer", "gas-tracker", "portfolio-risk"];

export default defineConfig({
  // One self-contained file per program: no shared chunks, so that each seller's "am I the program
  // being run?" check sees its own file (see is-main-module.ts).
  entry: {
    demo: "src/demo.ts",
    "buyer-agent": "src/buyer-agent.ts",
    "search-agents": "src/search-agents.ts",
    ...Object.fromEntries(SELLERS.map((name) => [`sellers/${name}`, `src/sellers/${name}.ts`])),
  },
  format: ["esm"],
  splitting: false,
  sourcemap: true,
  clean: true,
  target: "node20",
});
