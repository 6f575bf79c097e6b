import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where `mercato login` keeps the broker URL and account key: `$MERCATO_CONFIG_DIR/config.json`, else
 * the user's config directory (`$XDG_CONFIG_HOME/mercato` or `~/.config/mercato`; `%APPDATA%\mercato`
 * on Windows). The same rule as the CLI's `configPath` (packages/cli/src/config-file.ts), which a
 * CLI test holds this one to.
 */
export function loginConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.MERCATO_CONFIG_DIR) return join(env.MERCATO_CONFIG_DIR, "config.json");
  if (process.platform === "win32" && env.APPDATA) return join(env.APPDATA, "mercato", "config.json");
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "mercato", "config.json");
}

/** The broker URL and account key of `mercato login`, when the config file has them. */
export async function readLogin(env: NodeJS.ProcessEnv): Promise<{ url?: string; apiKey?: string }> {
  let text: string;
  try {
    text = await readFile(loginConfigPath(env), "utf8");
  } catch {
    return {};
  }
  try {
    const config = JSON.parse(text) as { url?: unknown; api_key?: unknown };
    return {
      ...(typeof config.url === "string" && { url: config.url }),
      ...(typeof config.api_key === "string" && { apiKey: config.api_key }),
    };
  } catch {
    return {};
  }
}
