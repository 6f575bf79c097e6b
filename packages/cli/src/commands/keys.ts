import type { ApiKey, CreatedKey } from "@mercato/sdk";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatTable, type Style, usd, when } from "../output/format.js";
import { parseTimestamp } from "../parse.js";
import { action, type Runtime } from "../runtime.js";

interface CreateFlags {
  name?: string;
  expires?: string;
}

/** Adds `keys list|create|revoke|rotate|reinstate`. */
export function addKeysCommands(program: Command, context: CliContext): void {
  const keys = program
    .command("keys")
    .description(
      "Manage API keys: account keys (mk_…) and the access keys (sk_live_… or sk_test_…) you bought",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ mercato keys list
  $ mercato keys create --name ci --expires 2027-01-01
  $ mercato keys rotate key_...
  $ mercato keys revoke key_...`,
    );

  keys
    .command("list")
    .description("List every key of the account, newest first, revoked ones included (never their secrets)")
    .addHelpText("after", "\nExamples:\n  $ mercato keys list\n  $ mercato keys list --json")
    .action(
      action(context, async (runtime) => {
        const client = await runtime.client({ needKey: true });
        const list = await runtime.wait("Reading keys", client.keys.list());
        runtime.print(list, () => keysTable(list.data, runtime.style));
      }),
    );

  keys
    .command("create")
    .description("Create an account key; its secret is printed once")
    .option("--name <name>", "a name to recognise it by")
    .option("--expires <when>", "when it stops working: a date or ISO 8601 timestamp in the future")
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato keys create --name ci\n  $ mercato keys create --expires 2027-01-01T00:00:00Z --json",
    )
    .action(
      action(context, async (runtime, flags: CreateFlags) => {
        const expires = flags.expires === undefined ? undefined : parseTimestamp("--expires", flags.expires);
        const client = await runtime.client({ needKey: true });
        const created = await runtime.wait(
          "Creating a key",
          client.keys.create({
            ...(flags.name !== undefined && { name: flags.name }),
            ...(expires !== undefined && { expires_at: expires }),
          }),
        );
        runtime.print(created, () => secretShown(runtime, `Created ${created.key_id}`, created));
      }),
    );

  keys
    .command("revoke")
    .description("Revoke a key at once; calls with it are refused from now on")
    .argument("<key-id>", "the key (key_…), as `mercato keys list` shows it")
    .addHelpText("after", "\nExample:\n  $ mercato keys revoke key_...")
    .action(
      action(context, async (runtime, _flags: object, keyId: string) => {
        const client = await runtime.client({ needKey: true });
        const revoked = await runtime.wait("Revoking the key", client.keys.revoke(keyId));
        await forgetAccessKey(runtime, revoked);
        runtime.print(
          revoked,
          () => `${runtime.style.green("✓")} Revoked ${revoked.key_id} (${revoked.prefix}…).`,
        );
      }),
    );

  keys
    .command("rotate")
    .summary("Replace a key with a new one with the same settings")
    .description(
      "Revoke a key and issue a replacement with the same settings, printed once. Rotating the key you\n" +
        "are logged in with, or a bought access key kept in the config, keeps the new one instead.",
    )
    .argument("<key-id>", "the key (key_…)")
    .addHelpText("after", "\nExample:\n  $ mercato keys rotate key_...")
    .action(
      action(context, async (runtime, _flags: object, keyId: string) => {
        const client = await runtime.client({ needKey: true });
        const before = (await client.keys.list()).data.find((key) => key.key_id === keyId);
        const rotated = await runtime.wait("Rotating the key", client.keys.rotate(keyId));
        const kept = await keepRotated(runtime, before, rotated);
        runtime.print({ ...rotated, saved_to_config: kept }, () =>
          [
            secretShown(runtime, `Rotated ${keyId}: the new key is ${rotated.key_id}`, rotated),
            ...(kept ? [`The config now holds the new key (${runtime.config.path}).`] : []),
          ].join("\n"),
        );
      }),
    );

  keys
    .command("reinstate")
    .description("Let an access key that fraud detection suspended call again")
    .argument("<key-id>", "the suspended key (key_…)")
    .addHelpText("after", "\nExample:\n  $ mercato keys reinstate key_...")
    .action(
      action(context, async (runtime, _flags: object, keyId: string) => {
        const client = await runtime.client({ needKey: true });
        const key = await runtime.wait("Reinstating the key", client.keys.reinstate(keyId));
        runtime.print(key, () => `${runtime.style.green("✓")} Reinstated ${key.key_id}: it may call again.`);
      }),
    );
}

/** A new secret, printed once with a warning. */
function secretShown(runtime: Runtime, headline: string, key: CreatedKey): string {
  return [
    `${runtime.style.green("✓")} ${headline}.`,
    "Secret, shown once, keep it safe:",
    `  ${runtime.style.bold(key.api_key)}`,
  ].join("\n");
}

function keyStatus(key: ApiKey, style: Style): string {
  if (key.revoked_at !== null) return style.dim("revoked");
  if (key.expires_at !== null && Date.parse(key.expires_at) <= Date.now()) return style.dim("expired");
  if (key.suspended_at !== null) return style.red("suspended");
  return style.green("active");
}

function keysTable(keys: readonly ApiKey[], style: Style): string {
  if (keys.length === 0) return "No keys.";
  return formatTable(
    [
      { title: "KEY" },
      { title: "KIND" },
      { title: "NAME" },
      { title: "PREFIX" },
      { title: "AGENT" },
      { title: "STATUS" },
      { title: "SPENT", align: "right" },
      { title: "CAP", align: "right" },
      { title: "CREATED" },
      { title: "EXPIRES" },
    ],
    keys.map((key) => [
      key.key_id,
      key.kind,
      key.name ?? "—",
      `${key.prefix}…`,
      key.agent_id ?? "—",
      keyStatus(key, style),
      key.spent_usd === null ? "—" : usd(key.spent_usd),
      key.spend_cap_usd === null ? "—" : usd(key.spend_cap_usd),
      when(key.created_at),
      when(key.expires_at),
    ]),
    style,
  );
}

/** Drops a revoked access key from the config, where invoke would otherwise still try it. */
async function forgetAccessKey(runtime: Runtime, revoked: ApiKey): Promise<void> {
  const stored = await runtime.config.read();
  const agentId = revoked.agent_id;
  const kept = agentId === null ? undefined : stored.access_keys?.[agentId];
  if (agentId === null || kept === undefined || !kept.startsWith(revoked.prefix)) return;
  await runtime.config.update((config) => {
    const { [agentId]: _revoked, ...rest } = config.access_keys ?? {};
    return { ...config, access_keys: rest };
  });
}

/** Puts a rotated key's replacement where the config held the old one; true when it did. */
async function keepRotated(
  runtime: Runtime,
  before: ApiKey | undefined,
  rotated: CreatedKey,
): Promise<boolean> {
  if (before === undefined) return false;
  const stored = await runtime.config.read();
  if (before.kind === "account") {
    if (stored.api_key === undefined || !stored.api_key.startsWith(before.prefix)) return false;
    if ((await runtime.apiKey()) !== stored.api_key) return false;
    await runtime.config.update((config) => ({ ...config, api_key: rotated.api_key }));
    return true;
  }
  const agentId = before.agent_id;
  if (agentId === null || !stored.access_keys?.[agentId]?.startsWith(before.prefix)) return false;
  await runtime.config.update((config) => ({
    ...config,
    access_keys: { ...config.access_keys, [agentId]: rotated.api_key },
  }));
  return true;
}
