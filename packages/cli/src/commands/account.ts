import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatFields, when } from "../output/format.js";
import { action } from "../runtime.js";

interface CreateFlags {
  name: string;
  email?: string;
  login?: boolean;
}

/** Adds `account create` (sign up) and `account show`. */
export function addAccountCommands(program: Command, context: CliContext): void {
  const account = program
    .command("account")
    .description("Sign up, and show the account you are logged in as")
    .addHelpText(
      "after",
      '\nExamples:\n  $ mercato account create --name "Ada Labs" --email ada@example.com\n  $ mercato account show',
    );

  account
    .command("create")
    .summary("Create an account and log in with its key")
    .description(
      "Create an account on the broker. Its account key is printed once; it is also kept in the\n" +
        "config file (you are logged in) unless you are logged in already or pass --no-login.",
    )
    .requiredOption("--name <name>", "the account's name (a person, a team, an agent)")
    .option("--email <address>", "where alerts and receipts go")
    .option("--no-login", "do not keep the new key in the config file")
    .addHelpText(
      "after",
      `
Examples:
  $ mercato account create --name "Ada Labs" --email ada@example.com
  $ mercato --url https://broker.example.com account create --name ci-bot --no-login --json`,
    )
    .action(
      action(context, async (runtime, flags: CreateFlags) => {
        const url = await runtime.url();
        const client = await runtime.client();
        const created = await runtime.wait(
          `Creating an account on ${url}`,
          client.accounts.create({
            name: flags.name,
            ...(flags.email !== undefined && { email: flags.email }),
          }),
        );
        const stored = await runtime.config.read();
        const saved = flags.login !== false && stored.api_key === undefined;
        if (saved) {
          await runtime.config.update(() => ({
            url,
            api_key: created.api_key,
            account_id: created.account_id,
            account_name: created.name,
          }));
        }
        runtime.print(
          { ...created, logged_in: saved, config_path: saved ? runtime.config.path : null },
          () => {
            const { style } = runtime;
            const lines = [
              `${style.green("✓")} Created account ${style.bold(created.name)} (${created.account_id}) on ${url}.`,
              "",
              `Account key, shown once, keep it secret:`,
              `  ${style.bold(created.api_key)}`,
              "",
            ];
            if (saved) lines.push(`Logged in: the key is kept in ${runtime.config.path}.`);
            else
              lines.push(
                `Not logged in with it. To use it: mercato login --url ${url} --key ${created.api_key}`,
              );
            lines.push("Next: mercato topup 25   (add money), mercato agents search   (find agents)");
            return lines.join("\n");
          },
        );
      }),
    );

  account
    .command("show")
    .description("Show the account of the key you use")
    .addHelpText("after", "\nExample:\n  $ mercato account show --json")
    .action(
      action(context, async (runtime) => {
        const url = await runtime.url();
        const client = await runtime.client({ needKey: true });
        const me = await runtime.wait("Reading the account", client.accounts.me());
        runtime.print(me, () =>
          formatFields(
            [
              ["account", me.account_id],
              ["name", me.name],
              ["email", me.email ?? "—"],
              ["created", when(me.created_at)],
              ["broker", url],
            ],
            runtime.style,
          ),
        );
      }),
    );
}
