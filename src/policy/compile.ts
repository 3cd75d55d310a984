import type { Target, TargetKind } from '../providers/types.js';
import type { PolicyFile, PrivacyClass } from './schema.js';

// The immutable runtime form of a policy: defaults settled, names resolved to objects, globs compiled.
// Built once per load; the request path only reads it.

export interface RuntimeTarget extends Target {
  clearance: PrivacyClass;
  weight: number;
  /** Why this target cannot serve requests (e.g. its API key is not set); undefined when usable. */
  unusable: string | undefined;
}

export interface RuntimeRoute {
  name: string;
  pattern: string;
  strategy: 'fallback';
  targets: readonly RuntimeTarget[];
  matches(model: string): boolean;
}

export interface Policy {
  readonly source: string;
  readonly targets: ReadonlyMap<string, RuntimeTarget>;
  readonly routes: readonly RuntimeRoute[];
  /** Alias -> target name -> model id. */
  readonly models: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** What GET /v1/models lists: aliases and literal route patterns. */
  readonly exposedModels: readonly string[];
  readonly privacyDefault: PrivacyClass;
  readonly maxBodyBytes: number;
  readonly timeouts: { firstByte: number; idle: number; total: number };
}

const DEFAULT_URL: Record<TargetKind, string | undefined> = {
  fastllm: 'http://127.0.0.1:8000',
  ollama: 'http://127.0.0.1:11434',
  openai: 'https://api.openai.com/v1',
  openrouter: 'https://openrouter.ai/api/v1',
  together: 'https://api.together.xyz/v1',
  'openai-compatible': undefined,
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
};

const NEEDS_KEY: ReadonlySet<TargetKind> = new Set(['openai', 'openrouter', 'together', 'anthropic', 'gemini']);

export function compilePolicy(file: PolicyFile, source: string): Policy {
  const targets = new Map<string, RuntimeTarget>();
  for (const [name, t] of Object.entries(file.targets)) {
    const apiKey = t.api_key === undefined || t.api_key === '' ? undefined : t.api_key;
    targets.set(name, {
      name,
      kind: t.kind,
      url: (t.url ?? DEFAULT_URL[t.kind] ?? '').replace(/\/+$/, ''),
      apiKey,
      headers: Object.freeze({ ...t.headers }),
      clearance: t.clearance,
      weight: t.weight,
      unusable: NEEDS_KEY.has(t.kind) && apiKey === undefined ? 'no API key configured' : undefined,
    });
  }

  const routes = file.routes.map((r, i): RuntimeRoute => {
    const regex = globToRegExp(r.match.model);
    return {
      name: r.name ?? `route-${i + 1}`,
      pattern: r.match.model,
      strategy: r.strategy,
      targets: r.targets.map((n) => targets.get(n)).filter((t): t is RuntimeTarget => t !== undefined),
      matches: (model) => regex.test(model),
    };
  });

  const models = new Map<string, ReadonlyMap<string, string>>(
    Object.entries(file.models).map(([alias, perTarget]) => [alias, new Map(Object.entries(perTarget))]),
  );
  const literalPatterns = file.routes.map((r) => r.match.model).filter((p) => !p.includes('*'));
  const exposedModels = [...new Set([...models.keys(), ...literalPatterns])];

  return {
    source,
    targets,
    routes,
    models,
    exposedModels,
    privacyDefault: file.privacy.default,
    maxBodyBytes: file.limits.max_body_bytes,
    timeouts: {
      firstByte: file.resilience.timeouts.first_byte,
      idle: file.resilience.timeouts.idle,
      total: file.resilience.timeouts.total,
    },
  };
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}
