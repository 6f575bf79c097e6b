export type { ErrorCode } from "./codes.js";
export { ERROR_CODE_LIST, ERROR_CODES, isErrorCode, statusForCode } from "./codes.js";
export type { ErrorEnvelope, MercatoErrorOptions } from "./mercato-error.js";
export { isMercatoError, MercatoError } from "./mercato-error.js";
