export type { FraudDetector, FraudDetectorOptions } from "./detector.js";
export { createFraudDetector } from "./detector.js";
