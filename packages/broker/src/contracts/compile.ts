import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import { CONTRACT_LIMITS } from "./limits.js";
import { ajvLinearRegExp } from "./linear-regexp.js";

/** One issue of a value against a contract: where (a JSON Pointer into the value) and what. */
export interface ContractIssue {
  path: string;
  message: string;
}

/** A compiled contract schema: the issues of a value (none when it conforms). */
export type ContractCheck = (value: unknown) => ContractIssue[];

/**
 * Compiles checked contract schemas with ajv (draft 2020-12). Each schema is compiled in an ajv
 * instance of its own (about 3 ms): nothing of one seller's schema can be found by another's `$ref`.
 */
export interface ContractCompiler {
  /** The meta-schema's issues with `schema` (none when it is a valid draft 2020-12 schema). */
  metaIssues(schema: object): ContractIssue[];
  /** @throws Error when ajv cannot compile the schema (an unresolvable `$ref`, a bad pattern). */
  compile(schema: object): ContractCheck;
}

const OPTIONS = {
  // The first issue only: a hostile value cannot make the broker list every one of its faults.
  allErrors: false,
  // Unknown keywords are annotations (draft 2020-12); `format` is an annotation too.
  strict: false,
  validateFormats: false,
  // Code stays linear in the schema's size: a `$ref` is a call, never a copy of its target.
  inlineRefs: false,
  // A property named "constructor" or "toString" is the value's own, never one inherited from Object.prototype.
  ownProperties: true,
  unicodeRegExp: false,
  code: { regExp: ajvLinearRegExp },
} as const;

/** A {@link ContractCompiler}. */
export function createContractCompiler(): ContractCompiler {
  const meta = new Ajv2020(OPTIONS);
  return {
    metaIssues(schema) {
      if (meta.validateSchema(schema) === true) return [];
      return issuesOf(meta.errors ?? []);
    },
    compile(schema) {
      const validate = new Ajv2020({ ...OPTIONS, validateSchema: false }).compile(schema);
      return (value) => {
        if (validate(value) === true) return [];
        return issuesOf(validate.errors ?? []);
      };
    },
  };
}

/** Ajv's errors as contract issues: at most `maxIssues`, each field capped. */
export function issuesOf(errors: readonly ErrorObject[]): ContractIssue[] {
  return errors.slice(0, CONTRACT_LIMITS.maxIssues).map((error) => ({
    path: capText(error.instancePath),
    message: capText(describe(error)),
  }));
}

function describe(error: ErrorObject): string {
  const message = error.message ?? `fails ${error.keyword}`;
  if (error.keyword === "additionalProperties") {
    const extra = (error.params as { additionalProperty?: unknown }).additionalProperty;
    if (typeof extra === "string") return `${message}: ${JSON.stringify(extra)}`;
  }
  return message;
}

/** A string cut to `maxIssueText` characters. */
export function capText(text: string): string {
  const max = CONTRACT_LIMITS.maxIssueText;
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
