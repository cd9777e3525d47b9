// Lints the served OpenAPI document with Redocly's recommended rules (the
// engine of `npx @redocly/cli lint`). Prints every problem; exits 1 on any.
// `node --import tsx scripts/lint-openapi.ts [file.json]`; without a file it
// builds an app on an in-memory database and lints what /openapi.json serves.
import fs from "node:fs";
import { createConfig, lintFromString } from "@redocly/openapi-core";

export async function lintOpenApi(document: unknown) {
  const config = await createConfig({ extends: ["recommended"] });
  const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: "openapi.json", config });
  return problems.map((p) => ({ severity: p.severity, rule: p.ruleId, message: p.message, where: p.location[0]?.pointer ?? "" }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let document: unknown;
  if (process.argv[2]) document = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  else {
    const { startTestApp } = await import("../test/helpers/app.ts");
    const t = await startTestApp("pglite");
    document = (await t.request({ method: "GET", url: "/openapi.json" })).json();
    await t.close();
  }
  const problems = await lintOpenApi(document);
  for (const p of problems) console.log(`${p.severity}\t${p.rule}\t${p.where}\t${p.message}`);
  console.log(`${problems.filter((p) => p.severity === "error").length} errors, ${problems.filter((p) => p.severity === "warn").length} warnings`);
  process.exit(problems.length > 0 ? 1 : 0);
}
