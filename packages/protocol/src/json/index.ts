export { exceedsJsonDepth, MAX_JSON_DEPTH } from "./json-depth.js";
