import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.ts";
import { createAdminClient, type AdminClient } from "./admin-client.ts";
import type { CommandContext } from "./context.ts";
import { auditCommand } from "./audit.ts";
import { demoGatewayCommand } from "./demo-gateway.ts";
import { entitiesCommand } from "./entities.ts";
import { keysCommand } from "./keys.ts";
import { masterKeyCommand } from "./master-key.ts";
import { migrateCommand } from "./migrate.ts";
import { CliError, createOutput, type Output } from "./output.ts";
import { vaultCommand } from "./vault.ts";

const HELP = `patchbay — the Patchbay command line

  patchbay entities create --name NAME
  patchbay entities list
  patchbay keys create --entity ENTITY_ID [--mode live|test] [--scopes a,b] [--name NAME]
                      [--rate-limit-per-minute N] [--rate-limit-burst N]   (default: the mode's limit)
  patchbay keys list --entity ENTITY_ID
  patchbay keys revoke KEY_ID
  patchbay audit --entity ENTITY_ID [--target-type TYPE] [--target-id ID] [--since 24h|TIME]
                 [--limit N] [--starting-after EVENT_ID]   (newest first)
  patchbay migrate
  patchbay master-key new
  patchbay vault status
  patchbay vault rewrap [--batch-size 100]
  patchbay demo-gateway [--port 4010] [--host 127.0.0.1]   (the demo retailer gateway, on its own)

Options: --json (machine output), --url URL (a running server; PATCHBAY_URL),
         --admin-token TOKEN (PATCHBAY_ADMIN_TOKEN, or the token file in the data dir).
Entity, key, audit and vault commands talk to a running server (npm start).`;

const commands: Record<string, (ctx: CommandContext) => Promise<void>> = {
  entities: entitiesCommand,
  keys: keysCommand,
  audit: auditCommand,
  migrate: migrateCommand,
  "master-key": masterKeyCommand,
  vault: vaultCommand,
  "demo-gateway": demoGatewayCommand,
};

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    // Every value-taking flag of every command is declared here, so `--name "Acme Inc"` is one value.
    options: {
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      url: { type: "string" },
      "admin-token": { type: "string" },
      name: { type: "string" },
      entity: { type: "string" },
      mode: { type: "string" },
      scopes: { type: "string" },
      "batch-size": { type: "string" },
      "rate-limit-per-minute": { type: "string" },
      "rate-limit-burst": { type: "string" },
      "target-type": { type: "string" },
      "target-id": { type: "string" },
      since: { type: "string" },
      limit: { type: "string" },
      "starting-after": { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
    },
  });
  const out = createOutput(values.json === true);
  const [group, ...args] = positionals;
  if (!group || values.help) {
    process.stdout.write(`${HELP}\n`);
    return group || values.help ? 0 : 1;
  }
  const command = commands[group];
  try {
    if (!command) throw new CliError(`Unknown command "${group}".`, "Run `npx patchbay --help` for the list.");
    const config = loadConfig();
    // Made on first use: commands that need no server (master-key new, migrate) must not need its token either.
    let client: AdminClient | undefined;
    const admin: AdminClient = (method, route, body) =>
      (client ??= createAdminClient(config, {
        url: typeof values.url === "string" ? values.url : undefined,
        token: typeof values["admin-token"] === "string" ? values["admin-token"] : undefined,
      }))(method, route, body);
    await command({ args, flags: values, config, admin, out });
    return 0;
  } catch (err) {
    if (err instanceof CliError || err instanceof ConfigError) {
      const hint = err instanceof CliError ? err.hint : undefined;
      if (out.json) process.stdout.write(`${JSON.stringify({ error: err.message, ...(hint ? { hint } : {}) })}\n`);
      else process.stderr.write(`error: ${err.message}\n${hint ? `hint: ${hint}\n` : ""}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await run(process.argv.slice(2));
