import { ERROR_CODE_LIST, REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from "@mercato/protocol";
import * as z from "zod";
import { PAYMENT_WEBHOOK_PATHS } from "../payments/webhooks.js";
import { BROKER_VERSION } from "../version.js";
import type { Route } from "./route.js";

type JsonSchema = Record<string, unknown>;

/** An OpenAPI 3.1 document, as plain JSON. */
export interface OpenApiDocument {
  openapi: "3.1.0";
  info: Record<string, unknown>;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
  [key: string]: unknown;
}

const COMMON_ERRORS = {
  none: ["VALIDATION_ERROR", "RATE_LIMITED"],
  account: ["VALIDATION_ERROR", "UNAUTHENTICATED", "INVALID_API_KEY", "FORBIDDEN", "RATE_LIMITED"],
  access: ["VALIDATION_ERROR", "UNAUTHENTICATED", "INVALID_API_KEY", "AGENT_NOT_PURCHASED", "RATE_LIMITED"],
  key: ["VALIDATION_ERROR", "UNAUTHENTICATED", "INVALID_API_KEY", "KEY_SUSPENDED", "RATE_LIMITED"],
  admin: ["VALIDATION_ERROR", "UNAUTHENTICATED", "FORBIDDEN"],
} as const;

const integerHeader = (description: string) => ({ description, schema: { type: "integer", minimum: 0 } });

/** The 429 of a rate-limited route, with the headers every one of its answers carries. */
const RATE_LIMITED_RESPONSE = {
  description: "RATE_LIMITED: over the limit; nothing was done.",
  headers: {
    "Retry-After": integerHeader("Seconds until one request is allowed again (429 only)"),
    "RateLimit-Limit": integerHeader("Requests allowed per window"),
    "RateLimit-Remaining": integerHeader("Requests still allowed at once"),
    "RateLimit-Reset": integerHeader("Seconds until the allowance is whole again"),
    "RateLimit-Policy": {
      description: "The limit and its window in seconds, as `limit;w=window`",
      schema: { type: "string" },
    },
  },
  content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
};

/**
 * Builds the OpenAPI 3.1 document of the broker from the protocol's zod schemas and the route
 * table: the single source the SDK's wire types are generated from.
 */
export function buildOpenApiDocument(routes: readonly Route[]): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = {
    ...componentsOf(REQUEST_SCHEMAS, "input"),
    ...componentsOf(RESPONSE_SCHEMAS, "output"),
  };
  const paths: OpenApiDocument["paths"] = {
    "/openapi.json": {
      get: {
        operationId: "getOpenApiDocument",
        tags: ["System"],
        summary: "This OpenAPI 3.1 document",
        responses: { "200": { description: "The document", content: { "application/json": {} } } },
      },
    },
    "/docs": {
      get: {
        operationId: "getDocs",
        tags: ["System"],
        summary: "Human-readable API reference (HTML)",
        responses: { "200": { description: "The reference", content: { "text/html": {} } } },
      },
    },
    ...PAYMENT_WEBHOOK_PATHS,
  };
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, "{$1}");
    const parameters = [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query")];
    const errorCodes = [...COMMON_ERRORS[route.auth], ...(route.errors ?? [])];
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      ...(route.description !== undefined && { description: route.description }),
      security:
        route.auth === "account" || route.auth === "access" || route.auth === "key"
          ? [{ bearerAuth: [] }]
          : route.auth === "admin"
            ? [{ adminToken: [] }]
            : [],
      ...(parameters.length > 0 && { parameters }),
      ...(route.body !== undefined && {
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: `#/components/schemas/${route.body}` } } },
        },
      }),
      responses: {
        [String(route.success.status)]: {
          description: route.success.description,
          content: {
            "application/json": { schema: { $ref: `#/components/schemas/${route.success.schema}` } },
          },
        },
        ...(route.rateLimited && { "429": RATE_LIMITED_RESPONSE }),
        default: {
          description: `An error envelope. Codes this route may answer: ${[...new Set(errorCodes)].join(", ")}.`,
          content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
        },
      },
    };
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Mercato broker API",
      version: BROKER_VERSION,
      description: [
        "Mercato is a marketplace where AI agents buy and sell each other's services, paid per call.",
        "",
        "Authenticate with `Authorization: Bearer <key>`: an account key (`mk_…`) manages an account;",
        "an access key (`sk_live_…`; `sk_test_…` from a dev broker, whose money is test money) invokes one purchased agent. Money is exact: amounts the ledger",
        "moves are decimal strings of USD with six decimals; more than six decimals is a 400.",
        "",
        `Every error is \`{"error": {"code", "message", "details"?, "request_id"}}\` with one of these codes: ${ERROR_CODE_LIST.join(", ")}.`,
      ].join("\n"),
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "Accounts", description: "Sign-up and the calling account" },
      { name: "Keys", description: "API keys: list, create, revoke, rotate" },
      { name: "Agents", description: "The registry: register, update, search" },
      {
        name: "Invoke",
        description: "Buy access to an agent and call it through the broker, paying per successful call",
      },
      {
        name: "Direct",
        description:
          "Direct mode: grants that hold a budget, so that the SDK calls sellers itself and pays with signed vouchers",
      },
      { name: "Billing", description: "Balances, charges, receipts, top-ups, spend caps, settlements" },
      { name: "Admin", description: "Operator routes, behind the admin token" },
      { name: "System", description: "Health and documentation" },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "An mk_… account key or sk_live_… (sk_test_… in dev mode) access key",
        },
      },
    },
  };
}

function componentsOf(named: Record<string, z.ZodType>, io: "input" | "output"): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _schema, $id: _id, ...schema }]) => [id, schema]),
  );
}

function parametersOf(schema: z.ZodType | undefined, location: "path" | "query"): unknown[] {
  if (schema === undefined) return [];
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === "path" || (json.required ?? []).includes(name),
      ...(typeof description === "string" && { description }),
      schema: rest,
      ...(location === "query" && rest.anyOf !== undefined && { style: "form", explode: true }),
    };
  });
}
