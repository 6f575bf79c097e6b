export type {
  CallKeyResolver,
  CallListing,
  CallSignatureFailure,
  CallSignatureParts,
  JwksKeyResolverOptions,
  SignableCall,
  VerifiedCall,
  VerifyCallOptions,
} from "./call-signature.js";
export {
  CALL_HEADERS,
  CALL_SIGNATURE_SCHEME,
  callHeaders,
  callSigningInput,
  createJwksKeyResolver,
  DEFAULT_REPLAY_WINDOW_SECONDS,
  digestBody,
  LEGACY_CALL_SIGNATURE_HEADER,
  signCall,
  verifyCallSignature,
} from "./call-signature.js";
