#!/usr/bin/env node
// `npx patchbay …`: the compiled CLI (dist-cli/, scripts/build-cli.mjs), built on first use and whenever src/ is newer.
import { ensureCliBuilt } from "../scripts/build-cli.mjs";

const entry = await ensureCliBuilt({ force: process.env.PATCHBAY_REBUILD === "true" });
process.setSourceMapsEnabled(true);
await import(entry);
