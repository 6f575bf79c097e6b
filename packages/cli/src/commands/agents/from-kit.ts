import { fetchKitContract, type KitContract, type RegisterAgentRequest } from "@mercato/sdk";
import { UsageError } from "../../errors.js";
import type { Runtime } from "../../runtime.js";

/**
 * The contract of the seller kit at `url`, for a registration that must not already carry schemas.
 * @throws UsageError when the file gives schemas too; MercatoError when the kit serves no contract.
 */
export async function readKitContract(runtime: Runtime, body: unknown, url: string): Promise<KitContract> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new UsageError("--file must hold a JSON object");
  }
  if ("input_schema" in body || "output_schema" in body) {
    throw new UsageError(
      "--from-kit reads input_schema and output_schema from the kit: remove them from --file, or drop --from-kit",
    );
  }
  if (!/^https?:\/\/[^/]/i.test(url)) {
    throw new UsageError(`--from-kit must be the seller kit's http(s) endpoint, got "${url}"`);
  }
  return runtime.wait(`Reading the contract of the seller kit at ${url}`, fetchKitContract(url));
}

/** The registration with the kit's schemas (an absent one left out) and, unless given, its endpoint. */
export function withContract(
  body: RegisterAgentRequest,
  contract: KitContract,
  url: string,
): RegisterAgentRequest {
  return {
    ...body,
    api_endpoint: body.api_endpoint ?? url,
    ...(contract.input_schema !== null && { input_schema: contract.input_schema }),
    ...(contract.output_schema !== null && { output_schema: contract.output_schema }),
  } as RegisterAgentRequest;
}

/** Which schemas a registration took from the kit. */
export function contractSummary(contract: KitContract): string {
  const declared = (["input", "output"] as const).filter((side) => contract[`${side}_schema`] !== null);
  if (declared.length === 2) return "Input and output schemas taken from the seller kit.";
  if (declared.length === 1) {
    return `The ${declared[0]} schema taken from the seller kit; it declares no ${declared[0] === "input" ? "output" : "input"} schema.`;
  }
  return "The seller kit declares no input or output schema: give sellerKit({ input, output }) zod schemas.";
}
