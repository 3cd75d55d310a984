// Types for scripts/native.mjs (plain JS so `npm start` and `npm test` need no TypeScript loader).
export const repoRoot: string;
export const cargoTargetDir: string;
export const nativeDir: string;
export const manifest: string;
export const fastllmBinary: string;
export const demoModel: string;
export function localServeArgs(model: string, port: number | string): string[];
export function run(command: string, args: string[], options?: { cwd?: string; env?: Record<string, string> }): Promise<number>;
export function cargo(args: string[], env?: Record<string, string>): Promise<number>;
export function buildFastllm(): Promise<number>;
export function waitHealthy(url: string, child: { exitCode: number | null }, seconds: number): Promise<boolean>;
