export { addAgentsCommands } from "./agents.js";
