// Types for the Workers build, kept narrow so the repository's one tsconfig (DOM + Node types) still checks
// src/worker.ts and these tests without pulling @cloudflare/workers-types' globals in.

declare module '*.yaml' {
  /** The file's text: wrangler's `[[rules]] type = "Text"` (and the test pool's modulesRules) bundle it. */
  const text: string;
  export default text;
}

declare module 'cloudflare:workers' {
  /** The `main` Worker's exports, called in the test isolate the way workerd calls them. */
  export const exports: {
    default: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
  };
  /** The test Worker's bindings (vitest.workers.config.ts). */
  export const env: {
    HEDDLE_POLICY_YAML: string;
    UPSTREAM_KEY: string;
    /** A real miniflare KV namespace, handed to fresh Worker instances as HEDDLE_POLICY_KV by policy.test.ts. */
    /** The HeddleBreakers Durable Object namespace (shared breaker openings). */
    HEDDLE_BREAKERS: { idFromName(name: string): unknown; get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> } };
    POLICY_KV_TEST: {
      get(key: string, type: 'text'): Promise<string | null>;
      put(key: string, value: string): Promise<void>;
      delete(key: string): Promise<void>;
    };
  };
}
