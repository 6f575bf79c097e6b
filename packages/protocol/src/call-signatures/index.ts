export type {
  CallKeyResolver,
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
  callSigningInput,
  createJwksKeyResolver,
  DEFAULT_REPLAY_WINDOW_SECONDS,
  digestBody,
  signCall,
  verifyCallSignature,
} from "./call-signature.js";
