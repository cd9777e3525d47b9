import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { createAdminClient, type AdminClient } from "./admin-client.ts";
import type { CommandContext } from "./context.ts";
import { CliError, createOutput, type Output } from "./output.ts";


declare const PATCHBAY_VERSION: string | undefined;

/** The package's version: inlined by the CLI bundle (scripts/build-cli.mjs), read from package.json under tsx. */
async function version(): Promise<string> {
  if (typeof PATCHBAY_VERSION === "string") return PATCHBAY_VERSION;
  const { readFileSync } = await import("node:fs");
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

function usage(message: string, hint: string): CliError {
  return new CliError(message, hint, 2);
}

async function run(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const out = createOutput(json);
  try {
    return await dispatch(argv, out);
  } catch (err) {
    if (err instanceof CliError || err instanceof ConfigError) {
      const hint = err instanceof CliError ? err.hint : undefined;
      if (out.json) process.stdout.write(`${JSON.stringify({ error: err.message, ...(hint ? { hint } : {}) })}\n`);
      else process.stderr.write(`error: ${err.message}\n${hint ? `hint: ${hint}\n` : ""}`);
      return err instanceof CliError ? err.exitCode : 2;
    }
    throw err;
  }
}

async function dispatch(argv: string[], out: Output): Promise<number> {
  const { COMMANDS, GLOBAL_FLAGS, commandHelp, findCommand, mainHelp } = await import("./commands.ts");
  // The command's words come first, before any flag.
  const firstFlag = argv.findIndex((a) => a.startsWith("-"));
  const words = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
  if (argv[0] === "--version" || argv[0] === "-v" || argv[0] === "version") {
    process.stdout.write(`${await version()}\n`);
    return 0;
  }
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    process.stdout.write(`${mainHelp(await version())}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === "help") {
    if (argv.length === 1) return process.stdout.write(`${mainHelp(await version())}\n`), 0;
    const found = findCommand(argv.slice(1));
    if (!found) {
      const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[1]} `));
      if (group.length === 0) throw usage(`Unknown command "${argv.slice(1).join(" ")}".`, "Run `patchbay --help` for the list.");
      process.stdout.write(`${group.map(commandHelp).join("\n\n")}\n`);
      return 0;
    }
    process.stdout.write(`${commandHelp(found.spec)}\n`);
    return 0;
  }
  const found = findCommand(words);
  if (!found) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `));
    if (group.length > 0 && (argv.includes("--help") || argv.includes("-h"))) return process.stdout.write(`${group.map(commandHelp).join("\n\n")}\n`), 0;
    throw usage(
      `Unknown command "${words.slice(0, 2).join(" ")}".`,
      group.length ? `Use one of: ${group.map((c) => c.name).join(", ")}.` : "Run `patchbay --help` for the list.",
    );
  }
  const { spec } = found;
  const declared = { ...GLOBAL_FLAGS, ...spec.flags };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(Object.entries(declared).map(([name, f]) => [name, { type: f.type, ...(name === "help" ? { short: "h" } : {}) }])),
    });
  } catch (err) {
    const bad = /'(-{1,2}[^']+)'/.exec((err as Error).message)?.[1];
    const valid = Object.keys(declared).map((f) => `--${f}`).join(", ");
    throw usage(bad ? `Unknown or malformed flag ${bad} for "patchbay ${spec.name}".` : (err as Error).message, `Valid flags: ${valid}. See \`patchbay help ${spec.name}\`.`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    process.stdout.write(`${commandHelp(spec)}\n`);
    return 0;
  }
  const args = parsed.positionals.slice(spec.name.split(" ").length);
  const config = loadConfig();
  // Made on first use: commands that need no server (master-key new, migrate) must not need its token either.
  let client: AdminClient | undefined;
  const admin: AdminClient = (method, route, body) =>
    (client ??= createAdminClient(config, {
      url: typeof values.url === "string" ? values.url : undefined,
      token: typeof values["admin-token"] === "string" ? values["admin-token"] : undefined,
    }))(method, route, body);
  const serverUrl = (typeof values.url === "string" ? values.url : config.serverUrl).replace(/\/+$/, "");
  const apiKey = typeof values["api-key"] === "string" ? values["api-key"] : process.env.PATCHBAY_API_KEY || undefined;
  await spec.run({ args, flags: values, config, admin, out, serverUrl, apiKey });
  return 0;
}

process.exitCode = await run(process.argv.slice(2));
