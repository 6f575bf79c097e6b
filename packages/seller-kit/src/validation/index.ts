export type { StandardSchemaV1 } from "./standard-schema.js";
export type { ValidationIssue, ValidationOutcome } from "./validate.js";
export { summarizeIssues, validateWith } from "./validate.js";
