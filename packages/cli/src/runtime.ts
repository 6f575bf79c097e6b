import { MercatoError } from "@mercato/protocol";
import { createClient, createMemoryKeyStore, type MercatoClient } from "@mercato/sdk";
import type { Command } from "commander";
import { type ConfigFile, configKeyStore, configPath, openConfigFile } from "./config-file.js";
import type { CliContext } from "./context.js";
import { UsageError } from "./errors.js";
import { createStyle, json, type Style, wantsColor } from "./output/format.js";
import { withSpinner } from "./output/spinner.js";
import { CLI_VERSION } from "./version.js";

/** The broker a command talks to when neither a flag, the environment nor the config names one. */
export const DEFAULT_BROKER_URL = "http://127.0.0.1:4020";

/** The options every command takes (set on the program; commander passes them down). */
export interface GlobalFlags {
  json?: boolean;
  url?: string;
  key?: string;
  color?: boolean;
}

/** What a command's action gets: its output, its config and its client. */
export interface Runtime {
  readonly context: CliContext;
  /** `--json`: print machine-readable output only. */
  readonly json: boolean;
  readonly style: Style;
  readonly config: ConfigFile;
  /**
   * Prints the command's result: `value` as JSON with `--json`, else the text `human()` builds.
   */
  print(value: unknown, human: () => string): void;
  /** A line for people on standard error (hints, progress); silent with `--json`. */
  note(text: string): void;
  /** Runs `work` with a spinner on a terminal when it takes longer than a moment. */
  wait<T>(label: string, work: Promise<T>): Promise<T>;
  /** The broker URL: `--url`, else `MERCATO_URL`, else the config's, else the local default. */
  url(): Promise<string>;
  /** The account key: `--key`, else `MERCATO_API_KEY`, else the config's; undefined when none. */
  apiKey(): Promise<string | undefined>;
  /**
   * A client of the broker. With `needKey`, one holding the account key (`--key`, else
   * `MERCATO_API_KEY`, else the config's) and the access keys bought before.
   * @throws MercatoError `UNAUTHENTICATED` when a key is needed and there is none.
   */
  client(options?: { needKey?: boolean }): Promise<MercatoClient>;
}

/** Builds the runtime of a command from the flags commander parsed (its own and the program's). */
export function createRuntime(context: CliContext, command: Command): Runtime {
  const flags = command.optsWithGlobals<GlobalFlags>();
  const asJson = flags.json === true;
  const style = createStyle(
    wantsColor({ isTTY: context.stdoutIsTTY, flag: flags.color !== false, env: context.env }),
  );
  const config = openConfigFile(configPath(context.env));

  const url = async () => {
    const chosen = flags.url ?? context.env.MERCATO_URL ?? (await config.read()).url ?? DEFAULT_BROKER_URL;
    let parsed: URL;
    try {
      parsed = new URL(chosen);
    } catch {
      throw new UsageError(`the broker URL must be an http(s) URL, got "${chosen}"`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new UsageError(`the broker URL must be an http(s) URL, got "${chosen}"`);
    }
    return chosen.replace(/\/+$/, "");
  };

  const apiKey = async () => {
    const key = flags.key ?? context.env.MERCATO_API_KEY ?? (await config.read()).api_key;
    return key === "" ? undefined : key;
  };

  return {
    context,
    json: asJson,
    style,
    config,
    print(value, human) {
      context.stdout(asJson ? json(value) : `${human()}\n`);
    },
    note(text) {
      if (!asJson) context.stderr(`${text}\n`);
    },
    wait(label, work) {
      return withSpinner({ enabled: context.stderrIsTTY && !asJson, write: context.stderr, label }, work);
    },
    url,
    apiKey,
    async client(options = {}) {
      const baseUrl = await url();
      const stored = await config.read();
      const key = await apiKey();
      if (options.needKey && key === undefined) {
        throw new MercatoError(
          "UNAUTHENTICATED",
          "Not logged in: this command needs an account key (--key, MERCATO_API_KEY or `mercato login`)",
        );
      }
      // Bought access keys spend the account of the key they were bought with: they are kept in
      // the config only for the config's own key, in memory for any other.
      const keyStore =
        key !== undefined && key === stored.api_key ? configKeyStore(config) : createMemoryKeyStore();
      return createClient({
        baseUrl,
        ...(key !== undefined && { apiKey: key }),
        keyStore,
        userAgent: `mercato-cli/${CLI_VERSION}`,
      });
    },
  };
}

/**
 * Wraps a command's action: commander passes the positional arguments, the command's options and
 * the command itself; the action gets them with its runtime.
 */
export function action<Args extends unknown[], Options>(
  context: CliContext,
  run: (runtime: Runtime, options: Options, ...args: Args) => Promise<void>,
): (...commanderArgs: unknown[]) => Promise<void> {
  return async (...commanderArgs) => {
    const command = commanderArgs.at(-1) as Command;
    const options = commanderArgs.at(-2) as Options;
    const args = commanderArgs.slice(0, -2) as Args;
    await run(createRuntime(context, command), options, ...args);
  };
}
