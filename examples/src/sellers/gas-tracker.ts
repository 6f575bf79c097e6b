// A gas-fee tracker: slow, standard and fast fees of a chain from a fixed table, with the cost of
// a plain transfer at each speed.
//
//   MERCATO_URL=http://127.0.0.1:4020 node examples/dist/sellers/gas-tracker.js --port 5054
import { formatUsd, MercatoError, parseUsd } from "@mercato/protocol";
import * as z from "zod";
import { isMainModule } from "../is-main-module.js";
import { cryptoManifest, runSellerProgram, type SellerDefinition } from "./run-seller.js";

/** The fee at one speed. */
export interface GasLevel {
  /** The fee in the chain's own unit (gwei, sat/vB, lamports…), as a decimal string. */
  fee: string;
  /** Typical wait until inclusion, seconds. */
  wait_s: number;
  /** What a plain transfer costs at this fee, exact USD (six decimals). */
  transfer_usd: string;
}

interface ChainFees {
  chain: string;
  name: string;
  unit: string;
  /** [fee in `unit`, wait in seconds, transfer cost in USD] per speed. */
  levels: Record<"slow" | "standard" | "fast", readonly [string, number, string]>;
}

const chain = (
  id: string,
  name: string,
  unit: string,
  slow: readonly [string, number, string],
  standard: readonly [string, number, string],
  fast: readonly [string, number, string],
): ChainFees => ({ chain: id, name, unit, levels: { slow, standard, fast } });

/** The fixed fee table, by chain id. */
export const GAS_TABLE: ReadonlyMap<string, ChainFees> = new Map(
  [
    chain("ethereum", "Ethereum", "gwei", ["4.2", 180, "0.27"], ["6.5", 36, "0.43"], ["11", 12, "0.72"]),
    chain("bitcoin", "Bitcoin", "sat/vB", ["3", 3_600, "0.27"], ["8", 1_800, "0.73"], ["15", 600, "1.36"]),
    chain(
      "arbitrum",
      "Arbitrum One",
      "gwei",
      ["0.01", 2, "0.002"],
      ["0.012", 1, "0.0025"],
      ["0.02", 1, "0.004"],
    ),
    chain(
      "optimism",
      "OP Mainnet",
      "gwei",
      ["0.001", 4, "0.0008"],
      ["0.002", 2, "0.001"],
      ["0.005", 2, "0.002"],
    ),
    chain("base", "Base", "gwei", ["0.005", 4, "0.0006"], ["0.008", 2, "0.0009"], ["0.015", 2, "0.0015"]),
    chain("polygon", "Polygon PoS", "gwei", ["30", 10, "0.0004"], ["45", 4, "0.0006"], ["80", 2, "0.001"]),
    chain("bsc", "BNB Smart Chain", "gwei", ["1", 9, "0.012"], ["1.5", 6, "0.018"], ["3", 3, "0.036"]),
    chain(
      "solana",
      "Solana",
      "lamports",
      ["5000", 2, "0.00074"],
      ["10000", 1, "0.0015"],
      ["50000", 1, "0.0074"],
    ),
  ].map((entry) => [entry.chain, entry]),
);

const ALIASES: ReadonlyMap<string, string> = new Map([
  ["eth", "ethereum"],
  ["mainnet", "ethereum"],
  ["btc", "bitcoin"],
  ["arb", "arbitrum"],
  ["op", "optimism"],
  ["matic", "polygon"],
  ["pol", "polygon"],
  ["bnb", "bsc"],
  ["sol", "solana"],
]);

/** When the table's fees were taken. */
export const FEES_AS_OF = "2025-06-30T16:00:00.000Z";

/** The input schema: a chain id or its common alias (`eth`, `btc`, `sol`…), any case. */
export const GasInput = z.strictObject({
  chain: z
    .string()
    .trim()
    .min(1)
    .max(40)
    .transform((name) => name.toLowerCase()),
});

const GasLevelOutput = z.strictObject({
  fee: z.string().min(1).describe("The fee in the chain's own unit, a decimal"),
  wait_s: z.number().nonnegative().describe("Typical wait until inclusion, seconds"),
  transfer_usd: z
    .string()
    .regex(/^\d+\.\d{6}$/)
    .describe("What a plain transfer costs, exact USD"),
});

/** The output schema: the tracker's answer, as its contract promises it. */
export const GasOutput = z.strictObject({
  chain: z.string().min(1).describe("The chain's id"),
  name: z.string().min(1),
  unit: z.string().min(1).describe("The fee's unit: gwei, sat/vB, lamports…"),
  slow: GasLevelOutput,
  standard: GasLevelOutput,
  fast: GasLevelOutput,
  as_of: z.iso.datetime(),
});

/** The tracker's answer. */
export interface GasFees {
  chain: string;
  name: string;
  unit: string;
  slow: GasLevel;
  standard: GasLevel;
  fast: GasLevel;
  as_of: string;
}

/**
 * The fees of a chain from the fixed table.
 *
 * @throws MercatoError `NOT_FOUND` (404) for a chain the table does not hold, with the known ones in `details.known`.
 * @example gasFees({ chain: "eth" }); // { chain: "ethereum", unit: "gwei", standard: { fee: "6.5", wait_s: 36, transfer_usd: "0.430000" }, … }
 */
export function gasFees(input: z.output<typeof GasInput>): GasFees {
  const id = ALIASES.get(input.chain) ?? input.chain;
  const found = GAS_TABLE.get(id);
  if (found === undefined) {
    throw new MercatoError("NOT_FOUND", `No fee data for chain ${input.chain}`, {
      details: { chain: input.chain, known: [...GAS_TABLE.keys()] },
    });
  }
  const level = ([fee, wait, usd]: readonly [string, number, string]): GasLevel => ({
    fee,
    wait_s: wait,
    transfer_usd: formatUsd(parseUsd(usd)),
  });
  return {
    chain: found.chain,
    name: found.name,
    unit: found.unit,
    slow: level(found.levels.slow),
    standard: level(found.levels.standard),
    fast: level(found.levels.fast),
    as_of: FEES_AS_OF,
  };
}

const DEFAULT_NAME = "Gas Fee Tracker";
const DEFAULT_PRICE = "0.001";

/**
 * The tracker's registration: category `crypto`, tags `gas` and `fees`; `overrides` replace fields.
 *
 * @example gasTrackerManifest("http://127.0.0.1:5054/gas");
 */
export const gasTrackerManifest = cryptoManifest({
  name: DEFAULT_NAME,
  description: `Slow, standard and fast fees on ${GAS_TABLE.size} chains, with wait times and the cost of a transfer. Input: {chain}.`,
  tags: ["gas", "fees", "market-data"],
  priceUsd: DEFAULT_PRICE,
});

/** The program: `node dist/sellers/gas-tracker.js`. */
export const gasTracker: SellerDefinition<typeof GasInput, typeof GasOutput> = {
  program: "gas-tracker",
  path: "/gas",
  defaultName: DEFAULT_NAME,
  defaultPriceUsd: DEFAULT_PRICE,
  input: GasInput,
  output: GasOutput,
  handler: gasFees,
  manifest: gasTrackerManifest,
};

if (isMainModule(import.meta.url, gasTracker.program)) await runSellerProgram(gasTracker);
