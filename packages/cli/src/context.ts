/** What commands use to talk to the world, injected so that tests run them in-process. */
export interface CliContext {
  /** Writes to standard output. */
  stdout: (text: string) => void;
  /** Writes to standard error. */
  stderr: (text: string) => void;
  /** Whether standard output is a terminal (colours, tables sized for people). */
  stdoutIsTTY: boolean;
  /** Whether standard error is a terminal (spinners). */
  stderrIsTTY: boolean;
  /** Environment variables (the broker reads PORT, MERCATO_DB, … from them). */
  env: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /** Reads standard input to its end (for `--input -` and `--file -`). */
  readStdin: () => Promise<string>;
  /** Resolves, with its reason, when a long-running command should stop. */
  untilStopped: () => Promise<string>;
}

/** Resolves with the name of the first SIGINT or SIGTERM; a second one then ends the process at once. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Standard input, read to its end as UTF-8. */
export async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
