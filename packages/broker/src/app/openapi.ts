import { ERROR_CODE_LIST, type ErrorCode, REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from "@mercato/protocol";
import * as z from "zod";
import { A2A_OPENAPI_PATHS } from "../a2a/routes.js";
import { PAYMENT_WEBHOOK_PATHS } from "../payments/webhooks.js";
import { errorResponses, NO_ERROR_RESPONSES } from "../platform/http/error-responses.js";
import type { AuthMode, Route } from "../platform/http/route.js";
import { BROKER_VERSION } from "../version.js";

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
} as const satisfies Record<AuthMode, readonly ErrorCode[]>;

/** What the broker answers any route with a JSON body before the route sees it. */
const BODY_ERRORS: readonly ErrorCode[] = ["INVALID_JSON", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"];

/** The security requirement of each kind of route: either of a route's schemes will do. */
const SECURITY: Record<AuthMode, Record<string, string[]>[]> = {
  none: [],
  account: [{ accountKey: [] }],
  access: [{ accessKey: [] }],
  key: [{ accountKey: [] }, { accessKey: [] }],
  admin: [{ adminToken: [] }],
};

/**
 * Detail objects that are a named object plus more fields: listed as the named object and the
 * extra fields, so that the named objects are part of the answers that carry them.
 */
const EXTENDED_SCHEMAS = { AgentDetail: "Agent", TransactionDetail: "Transaction" } as const;

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
 * table: the single source the SDK's wire types are generated from. It reads only the routes'
 * descriptions, so it takes any module's routes whatever deps they need (`Route<never>`).
 */
export function buildOpenApiDocument(routes: readonly Route<never>[]): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = {
    ...componentsOf(REQUEST_SCHEMAS, "input"),
    ...componentsOf(RESPONSE_SCHEMAS, "output"),
  };
  for (const [name, base] of Object.entries(EXTENDED_SCHEMAS)) composeSchema(schemas, name, base);
  const paths: OpenApiDocument["paths"] = {
    "/openapi.json": {
      get: {
        operationId: "getOpenApiDocument",
        tags: ["System"],
        summary: "This OpenAPI 3.1 document",
        security: [],
        responses: {
          "200": { description: "The document", content: { "application/json": {} } },
          ...NO_ERROR_RESPONSES,
        },
      },
    },
    "/docs": {
      get: {
        operationId: "getDocs",
        tags: ["System"],
        summary: "Human-readable API reference (HTML)",
        security: [],
        responses: {
          "200": { description: "The reference", content: { "text/html": {} } },
          ...NO_ERROR_RESPONSES,
        },
      },
    },
    ...PAYMENT_WEBHOOK_PATHS,
    ...A2A_OPENAPI_PATHS,
  };
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, "{$1}");
    const parameters = [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query")];
    const errorCodes = [
      ...COMMON_ERRORS[route.auth],
      ...(route.body !== undefined ? BODY_ERRORS : []),
      ...(route.errors ?? []),
    ];
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      ...(route.description !== undefined && { description: route.description }),
      security: SECURITY[route.auth],
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
        ...errorResponses(errorCodes),
        ...(route.rateLimited && { "429": RATE_LIMITED_RESPONSE }),
      },
    };
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Mercato broker API",
      version: BROKER_VERSION,
      license: { name: "MIT", identifier: "MIT" },
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
      {
        name: "A2A",
        description: "Agent2Agent (A2A 1.0): signed agent cards, and each listing's JSON-RPC endpoint",
      },
      { name: "System", description: "Health and documentation" },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        accountKey: {
          type: "http",
          scheme: "bearer",
          description: "An account key (`mk_…`): manages its account, its keys, agents and money",
        },
        accessKey: {
          type: "http",
          scheme: "bearer",
          description:
            "An access key (`sk_live_…`; `sk_test_…` from a dev-mode broker), bought for one agent: invokes that agent",
        },
        adminToken: {
          type: "http",
          scheme: "bearer",
          description: "The operator's admin token (`--admin-token`); admin routes are off without one",
        },
      },
    },
  };
}

/**
 * Rewrites `schemas[name]` as `schemas[base]` and the fields it adds or narrows (both must hold).
 * Throws when the base has a field the derived object lacks: it would not be a base then.
 */
function composeSchema(schemas: Record<string, JsonSchema>, name: string, base: string): void {
  const derived = schemas[name] as ObjectSchema | undefined;
  const parent = schemas[base] as ObjectSchema | undefined;
  if (derived === undefined || parent === undefined) throw new Error(`No schema ${name} or ${base}`);
  const missing = Object.keys(parent.properties).filter((key) => !(key in derived.properties));
  if (missing.length > 0) throw new Error(`${name} lacks ${base}'s ${missing.join(", ")}`);
  const own = Object.keys(derived.properties).filter(
    (key) => JSON.stringify(derived.properties[key]) !== JSON.stringify(parent.properties[key]),
  );
  // The base lists only the fields it guarantees: closing it would refuse the derived object's own.
  const { additionalProperties: _closed, ...open } = parent;
  schemas[base] = open;
  const { properties: _all, required: _required, additionalProperties: _derivedClosed, ...rest } = derived;
  schemas[name] = {
    ...rest,
    allOf: [
      { $ref: `#/components/schemas/${base}` },
      {
        type: "object",
        properties: Object.fromEntries(own.map((key) => [key, derived.properties[key]])),
        required: (derived.required ?? []).filter((key) => own.includes(key)),
      },
    ],
    unevaluatedProperties: false,
  };
}

interface ObjectSchema extends JsonSchema {
  properties: Record<string, JsonSchema>;
  required?: string[];
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
