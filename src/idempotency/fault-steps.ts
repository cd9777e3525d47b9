/** The steps of an idempotent write where PATCHBAY_FAULT_CRASH can crash the process (RELIABILITY.md). Apart from store.ts so that config.ts (and the CLI) need not load kysely. */
export const FAULT_STEPS = ["before_claim", "after_claim", "after_write", "before_commit", "after_commit"] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];
