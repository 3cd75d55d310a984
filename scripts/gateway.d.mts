// Types for scripts/gateway.mjs (plain JS so `npm start` needs no TypeScript loader).
import type { ChildProcess, StdioOptions } from 'node:child_process';
export const gatewayEntry: string;
export const gatewayBundle: string;
export const gatewayNodeFlags: string[];
export function buildGateway(options?: { entry?: string; outfile?: string }): Promise<string>;
export function gatewayCommand(bundle?: string): [string, string[]];
export function runGateway(options?: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions }): Promise<ChildProcess>;
