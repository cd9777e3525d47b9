#!/usr/bin/env node
// `npx patchbay …` from the checkout: runs the TypeScript CLI through tsx.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/index.ts");
