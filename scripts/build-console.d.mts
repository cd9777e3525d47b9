export const CONSOLE_ASSETS: string;
export function ensureConsoleBuilt(opts?: { force?: boolean }): Promise<string>;
