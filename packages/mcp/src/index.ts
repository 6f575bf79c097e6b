export {
  type AgentTool,
  type AgentToolCatalog,
  createAgentToolCatalog,
  MAX_AGENT_TOOLS,
} from "./agent-tools.js";
export { type HttpServerOptions, type RunningHttpServer, startHttpServer } from "./http.js";
export { loginConfigPath } from "./login-config.js";
export {
  checkListing,
  createPolicyMeter,
  describePolicy,
  type PolicyMeter,
  type PolicyOptions,
  parsePolicy,
  type SpendingPolicy,
  type SpendingSnapshot,
} from "./policy.js";
export {
  configureMcpCommand,
  DEFAULT_AGENT_TOOLS_REFRESH_S,
  DEFAULT_BROKER_URL,
  type McpIo,
  type McpOptions,
  runMcp,
} from "./run.js";
export {
  type AccountSession,
  createAccountSession,
  createMcpServer,
  createShared,
  POLICY_URI,
  type ServerShared,
} from "./server.js";
export { TOOLS } from "./tools.js";
export { MCP_VERSION } from "./version.js";
