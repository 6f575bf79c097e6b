import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { KeyStore } from "@mercato/sdk";
import { UsageError } from "./errors.js";

/** What `mercato login` keeps between runs. */
export interface StoredConfig {
  /** The broker's URL. */
  url?: string;
  /** The account key (`mk_…`). */
  api_key?: string;
  /** The account the key belongs to, as the broker answered at login. */
  account_id?: string;
  account_name?: string;
  /** Access keys (`sk_live_…`, or `sk_test_…` from a dev broker) bought by `mercato purchase` or `mercato invoke`, by agent id. */
  access_keys?: Record<string, string>;
}

/**
 * Where the config file lives: `$MERCATO_CONFIG_DIR`, else the user's config directory
 * (`$XDG_CONFIG_HOME/mercato` or `~/.config/mercato`; `%APPDATA%\mercato` on Windows).
 */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.MERCATO_CONFIG_DIR) return join(env.MERCATO_CONFIG_DIR, "config.json");
  if (process.platform === "win32" && env.APPDATA) return join(env.APPDATA, "mercato", "config.json");
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "mercato", "config.json");
}

/** The config file: read once per command, written whole (mode 0600) on every change. */
export interface ConfigFile {
  readonly path: string;
  read(): Promise<StoredConfig>;
  /** Applies `change` to the stored config and writes it back. */
  update(change: (config: StoredConfig) => StoredConfig): Promise<StoredConfig>;
  /** Removes the file (logging out). */
  remove(): Promise<void>;
}

/** The config file at `path`. Secrets in it are readable by the user only (0600, directory 0700). */
export function openConfigFile(path: string): ConfigFile {
  let cached: StoredConfig | undefined;
  const read = async (): Promise<StoredConfig> => {
    if (cached !== undefined) return cached;
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        cached = {};
        return cached;
      }
      throw new UsageError(`cannot read the config file ${path}: ${(error as Error).message}`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      cached = parsed as StoredConfig;
      return cached;
    } catch (error) {
      throw new UsageError(
        `the config file ${path} is not valid JSON (${(error as Error).message}); fix it or delete it and run \`mercato login\` again`,
      );
    }
  };
  return {
    path,
    read,
    async update(change) {
      const next = change({ ...(await read()) });
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      // Written beside the file and renamed over it, so a crash never leaves half a config; the
      // mode is set before any secret is in the file.
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, path);
      cached = next;
      return next;
    },
    async remove() {
      await rm(path, { force: true });
      cached = {};
    },
  };
}

/** A {@link KeyStore} over the config file's `access_keys`, so bought keys outlive the command. */
export function configKeyStore(file: ConfigFile): KeyStore {
  return {
    get: async (agentId) => (await file.read()).access_keys?.[agentId],
    set: async (agentId, accessKey) => {
      await file.update((config) => ({
        ...config,
        access_keys: { ...config.access_keys, [agentId]: accessKey },
      }));
    },
    delete: async (agentId) => {
      await file.update((config) => {
        const { [agentId]: _gone, ...rest } = config.access_keys ?? {};
        return { ...config, access_keys: rest };
      });
    },
  };
}
