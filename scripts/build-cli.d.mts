export const CLI_ENTRY: string;
export function ensureCliBuilt(opts?: { force?: boolean }): Promise<string>;
