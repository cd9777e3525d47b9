import { DEMO_LOGINS, DEMO_PASSWORD, startDemoRetailerGateway } from "../demo/retailer-gateway.ts";
import type { CommandContext } from "./context.ts";
import { CliError } from "./output.ts";

/** `demo-gateway [--port 4010] [--host 127.0.0.1]`: the demo retailer gateway as its own server, until Ctrl-C. */
export async function demoGatewayCommand({ flags, out }: CommandContext): Promise<void> {
  const port = flags.port === undefined ? 4010 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError("--port must be a port number (0–65535).");
  const host = typeof flags.host === "string" ? flags.host : "127.0.0.1";
  const gateway = await startDemoRetailerGateway({ host, port });
  out.result({ url: gateway.url, logins: DEMO_LOGINS, password: DEMO_PASSWORD }, () =>
    [
      `Demo retailer gateway listening on ${gateway.url}`,
      "",
      "Point Patchbay at it:",
      `  PATCHBAY_PROVIDER_URL_RETAILERS=${gateway.url} PATCHBAY_DEMO_RETAILER_GATEWAY=false npm start`,
      "",
      `Test logins (password ${DEMO_PASSWORD}): ${DEMO_LOGINS.good} (purchases), ${DEMO_LOGINS.reauth} (asks to sign in again),`,
      `${DEMO_LOGINS.unavailable} (purchases unavailable); anything else is refused.`,
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await gateway.close();
}
