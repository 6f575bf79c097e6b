// Test support only: nothing here is exported by the package.
export type { SignOptions, TestBrokerKey } from "./broker-keys.js";
export { brokerKey, CALL_HEADERS, callBody, NOW, signedHeaders } from "./broker-keys.js";
export type { SignedRequestOptions } from "./loopback.js";
export { listen, liveHeaders, postSigned } from "./loopback.js";
