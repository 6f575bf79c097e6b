import { type ErrorCode, statusForCode } from "@mercato/protocol";

const ENVELOPE = { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } };

/**
 * The OpenAPI responses of an operation that may answer `codes`: one per HTTP status, each naming
 * its codes and the error envelope, so that a generated client knows both the status and the body
 * of every failure; `default` covers what no route plans for (INTERNAL_ERROR, a bug).
 *
 * @example
 * errorResponses(["VALIDATION_ERROR", "AGENT_NOT_FOUND"]);
 * // { "400": …VALIDATION_ERROR…, "404": …AGENT_NOT_FOUND…, default: …INTERNAL_ERROR… }
 */
export function errorResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = statusForCode(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, unknown> = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    responses[String(status)] = {
      description: `An error envelope with code ${(byStatus.get(status) ?? []).join(" or ")}.`,
      content: ENVELOPE,
    };
  }
  responses.default = {
    description: "An error envelope with any other code, e.g. INTERNAL_ERROR (500), which is a bug.",
    content: ENVELOPE,
  };
  return responses;
}

/**
 * The error responses of a route that answers no error of its own (a static document): every 4xx
 * the broker sends still has the envelope's shape.
 */
export const NO_ERROR_RESPONSES: Record<string, unknown> = {
  "4XX": {
    description:
      "An error envelope; this route answers none of its own, but every error of the broker has this shape.",
    content: ENVELOPE,
  },
  default: {
    description: "An error envelope with any other code, e.g. INTERNAL_ERROR (500), which is a bug.",
    content: ENVELOPE,
  },
};
