export type { CreateProgramOptions } from "./program.js";
export { createProgram } from "./program.js";
export { EXIT_FAILURE, EXIT_USAGE, runCli } from "./run.js";
