// A seller program's definition (its handler, schemas and registration) and the registration
// builders the example sellers share.
import type { RegisterAgentRequest } from "@mercato/sdk";
import type { SellerContract, StandardSchemaV1 } from "@mercato/seller-kit";

/** What a handler learns about the program running it. */
export interface SellerRunContext {
  /** The name it runs under (`--name`), e.g. to sign its answers. */
  name: string;
}

/** A seller program: its handler, its input and output schemas and how it appears on the marketplace. */
export interface SellerDefinition<
  Schema extends StandardSchemaV1,
  Output extends StandardSchemaV1 = StandardSchemaV1,
> {
  /** The program's file name without extension, e.g. `"price-oracle"`. */
  program: string;
  /** The path it serves calls on, e.g. `"/price"`; the registered endpoint ends with it. */
  path: string;
  /** Name used unless `--name` or `SELLER_NAME` says otherwise. */
  defaultName: string;
  /** Price per call used unless `--price` or `SELLER_PRICE` says otherwise. */
  defaultPriceUsd: string;
  /** The zod schema the kit checks each call's input against (a 400 otherwise). */
  input: Schema;
  /**
   * The zod schema of its answer: the kit checks every output against it (a broken one is the
   * seller's unpaid failure) and serves both as JSON Schema at `…/.well-known/mercato-contract`.
   */
  output: Output;
  /** The seller's own work: pure and deterministic in the examples. */
  handler: (
    input: StandardSchemaV1.InferOutput<Schema>,
    context: SellerRunContext,
  ) => StandardSchemaV1.InferInput<Output>;
  /** Its registration, for an endpoint URL; `overrides` replace fields (name, price, …). */
  manifest: (endpointUrl: string, overrides?: Partial<RegisterAgentRequest>) => RegisterAgentRequest;
}

/** What an example seller's registration says of itself; {@link cryptoManifest} adds the rest. */
export interface ManifestFields {
  name: string;
  description: string;
  tags: string[];
  /** Price per call, USD. */
  priceUsd: string;
}

/**
 * The registration builder of an example seller: category `crypto`, version 1.0.0, priced per
 * call, at the endpoint URL it is given; `overrides` replace fields (a second edition's name and
 * price, say).
 *
 * @example const manifest = cryptoManifest({ name: "Gas", description: "…", tags: ["gas"], priceUsd: "0.001" });
 */
export function cryptoManifest(
  fields: ManifestFields,
): (endpointUrl: string, overrides?: Partial<RegisterAgentRequest>) => RegisterAgentRequest {
  return (endpointUrl, overrides = {}) => ({
    name: fields.name,
    description: fields.description,
    category: "crypto",
    tags: fields.tags,
    version: "1.0.0",
    api_endpoint: endpointUrl,
    pricing: { model: "per_call", price_per_call: fields.priceUsd },
    ...overrides,
  });
}

/**
 * A kit's contract as registration fields: `input_schema` and `output_schema`, each left out when
 * the kit has none (registration takes a schema or nothing).
 */
export function withSchemas(contract: SellerContract): Partial<RegisterAgentRequest> {
  return {
    ...(contract.input_schema !== null && { input_schema: contract.input_schema }),
    ...(contract.output_schema !== null && { output_schema: contract.output_schema }),
  } as Partial<RegisterAgentRequest>;
}
