/**
 * Patchbay's entry point as the bench starts it: src/main.ts itself, unchanged.
 * Only the command line differs (`node --import tsx bench/patchbay-main.ts`),
 * so that a broad `pkill -f src/main.ts` run elsewhere on a shared machine to
 * stop some other Patchbay does not also stop the server under measurement
 * (it happened: servers exited cleanly on SIGTERM mid-scenario).
 */
import "../src/main.ts";
