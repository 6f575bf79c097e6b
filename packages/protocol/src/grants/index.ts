export type { GrantPayloadValue, SignedGrant, VerifyGrantOptions } from "./grant.js";
export { GRANT_TOKEN_TYPE, signGrant, verifyGrant } from "./grant.js";
