import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { formatFields } from "../output/format.js";
import { action } from "../runtime.js";

/**
 * Adds `login` and `logout`: `login` checks the account key with the broker and keeps the URL and
 * the key in the config file (mode 0600); `logout` forgets them and the bought access keys.
 */
export function addLoginCommands(program: Command, context: CliContext): void {
  program
    .command("login")
    .summary("Log in: keep the broker URL and an account key")
    .description(
      "Check an account key with the broker and keep it, with the broker's URL, in the config file\n" +
        "(readable by you only). Takes --url and --key, or MERCATO_URL and MERCATO_API_KEY.",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ mercato login --url http://127.0.0.1:4020 --key mk_...
  $ MERCATO_URL=https://broker.example.com MERCATO_API_KEY=mk_... mercato login`,
    )
    .action(
      action(context, async (runtime) => {
        const key = await runtime.apiKey();
        if (key === undefined) {
          throw new UsageError("mercato login needs an account key: --key mk_… or MERCATO_API_KEY");
        }
        if (!key.startsWith("mk_")) {
          throw new UsageError(
            "mercato login takes an account key (mk_…); access keys (sk_live_… or sk_test_…) only invoke",
          );
        }
        const url = await runtime.url();
        const client = await runtime.client({ needKey: true });
        const account = await runtime.wait(`Checking the key with ${url}`, client.accounts.me());
        await runtime.config.update((config) => ({
          url,
          api_key: key,
          account_id: account.account_id,
          account_name: account.name,
          // Access keys bought by another account would spend that account's money.
          ...(config.account_id === account.account_id &&
            config.access_keys && { access_keys: config.access_keys }),
        }));
        runtime.print(
          { url, account_id: account.account_id, name: account.name, config_path: runtime.config.path },
          () =>
            [
              `${runtime.style.green("✓")} Logged in to ${url} as ${runtime.style.bold(account.name)} (${account.account_id}).`,
              formatFields([["config", runtime.config.path]], runtime.style),
            ].join("\n"),
        );
      }),
    );

  program
    .command("logout")
    .description("Forget the broker URL, the account key and the bought access keys kept by `mercato login`")
    .addHelpText("after", "\nExample:\n  $ mercato logout")
    .action(
      action(context, async (runtime) => {
        const had = (await runtime.config.read()).api_key !== undefined;
        await runtime.config.remove();
        runtime.print({ logged_out: had, config_path: runtime.config.path }, () =>
          had ? `Logged out: removed ${runtime.config.path}.` : "Not logged in: nothing to forget.",
        );
      }),
    );
}
