// Test support only: nothing here is exported by the package.
export type { SignOptions, TestBrokerKey } from "./broker-keys.js";
export {
  brokerKey,
  CALL_HEADERS,
  callBody,
  NOW,
  signedHeaders,
  TEST_AGENT,
  TEST_OWNER,
} from "./broker-keys.js";
export type { DirectRequest, DirectRequestOptions, TestGrant } from "./direct.js";
export { AGENT_ID, directRequest, PRICE_MICROS, testGrant } from "./direct.js";
export type { BrokerReply, BrokerRequest, FakeBroker } from "./fake-broker.js";
export { fakeBroker } from "./fake-broker.js";
export type { SignedRequestOptions } from "./loopback.js";
export { listen, liveHeaders, postSigned } from "./loopback.js";
