import * as z from 'zod';
import { DETECTOR_FAMILIES } from '../privacy/detectors/index.js';
import { cacheSchema } from '../cache/config.js';
import { resilienceSchema } from '../resilience/config.js';
import { structuredOutputModeSchema } from '../structured/config.js';

// The policy file as written by users. Strict objects: a misspelt key is an error, not a silent no-op.
// This is the raw form; compile.ts turns it into the immutable runtime form the request path reads.
// policies/policy.schema.json is generated from this file (`heddle schema`); a test fails when it is stale.

export const privacyClassSchema = z.enum(['public', 'internal', 'confidential', 'restricted']);

export const targetKindSchema = z.enum([
  'fastllm',
  'ollama',
  'openai',
  'openrouter',
  'together',
  'openai-compatible',
  'anthropic',
  'gemini',
]);

export const runtimeSchema = z.enum(['node', 'workers']);

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'names use letters, digits, ".", "_" and "-"');

/** One value or a list of them; the compiled form is always a list. */
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

export const targetSchema = z.strictObject({
  kind: targetKindSchema,
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** Write `${ENV_VAR}`: secrets come from the environment, never from the file. */
  api_key: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** The most sensitive class this target may receive. */
  clearance: privacyClassSchema.default('internal'),
  /** Where the machine is, for people and for explain (e.g. "eu-west", "lab"). */
  region: z.string().min(1).optional(),
  /** Share of traffic under the `weighted` strategy. */
  weight: z.number().positive().default(1),
  /** Runtimes that can open a connection to it. Default: node only for loopback/private URLs, else both. */
  reach: z.array(runtimeSchema).min(1).optional(),
  limits: z
    .strictObject({
      /** Requests in flight at once; read by the attempt stage (resilience). */
      max_concurrent: z.number().int().positive().optional(),
    })
    .optional(),
  description: z.string().optional(),
  structured_output: structuredOutputModeSchema,
});

export const strategySchema = z.enum(['fallback', 'weighted', 'least-loaded', 'fastest']);

export const routeSchema = z.strictObject({
  name: nameSchema.optional(),
  match: z.strictObject({
    /** A model alias or a glob over the names clients send ("*" matches any run of characters). */
    model: oneOrMany(z.string().min(1)),
    /** `generation`, `evaluation` or any custom name, from the x-heddle-purpose header or the API key's tenant. */
    purpose: oneOrMany(nameSchema).optional(),
    tenant: oneOrMany(nameSchema).optional(),
    /** Request classes (before this route's own `privacy`) the route takes. */
    class: oneOrMany(privacyClassSchema).optional(),
  }),
  strategy: strategySchema.default('fallback'),
  targets: z.array(nameSchema).min(1),
  /** Every request on this route is at least this class. */
  privacy: privacyClassSchema.optional(),
  params: z
    .strictObject({
      /** Requests asking for more (max_tokens or max_completion_tokens) are refused, not clamped. */
      max_tokens: z.number().int().positive().optional(),
      /** Tool (function) names a request may declare; [] forbids tools. */
      tools: z.array(z.string().min(1)).optional(),
    })
    .optional(),
});

export const tenantSchema = z.strictObject({
  /** API keys as `sha256:<64 hex>` (`heddle hash-key <key>` prints one). */
  keys: z.array(z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a key hash like "sha256:<64 lowercase hex digits>" (see heddle hash-key)')).default([]),
  /** The lowest class of any request from this tenant. */
  floor: privacyClassSchema.optional(),
  /** Route names this tenant may use; all routes when absent. */
  routes: z.array(nameSchema).optional(),
  /** The purpose of this tenant's requests; a different x-heddle-purpose header is refused. */
  purpose: nameSchema.optional(),
});

const patternRuleSchema = z.strictObject({
  name: nameSchema,
  pattern: z.string().min(1),
  flags: z.string().regex(/^[imsu]*$/, 'flags from "i", "m", "s", "u"').optional(),
  class: privacyClassSchema,
});

const keywordRuleSchema = z.strictObject({
  name: nameSchema,
  words: z.array(z.string().trim().min(1)).min(1),
  class: privacyClassSchema,
});

export const privacySchema = z.strictObject({
  /** The floor of anonymous requests and of tenants that state none. */
  default: privacyClassSchema.default('internal'),
  /** Built-in detector families to run (all when absent). */
  detectors: z.array(z.enum(DETECTOR_FAMILIES)).optional(),
  /** Class each family raises a request to (defaults: secrets restricted; card, iban, ssn confidential; email, phone internal). */
  classes: z.partialRecord(z.enum(DETECTOR_FAMILIES), privacyClassSchema).optional(),
  patterns: z.array(patternRuleSchema).default([]),
  keywords: z.array(keywordRuleSchema).default([]),
  /** Also look for items split across adjacent messages. */
  cross_boundary: z.boolean().default(true),
  /**
   * Finding kinds whose values may be replaced by placeholders so a target cleared for less can serve the request
   * (restored in the answer). Never secrets: they are not accepted here.
   */
  redact: z
    .array(z.string().regex(/^(card|iban|ssn|email|phone|custom\.[\w.-]+|keyword\.[\w.-]+)$/, 'a finding kind: card, iban, ssn, email, phone, custom.<name> or keyword.<name> (never secrets)'))
    .default([]),
});

export const authSchema = z.strictObject({
  /**
   * Who may call without a known key: `local` (loopback clients only), `any`, or `none`.
   * Default: `any` while no tenant declares keys, else `local`.
   */
  anonymous: z.enum(['local', 'any', 'none']).optional(),
});

export const policySchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1),
    targets: z.record(nameSchema, targetSchema).refine((t) => Object.keys(t).length > 0, 'at least one target'),
    /** Alias -> target name -> model id on that target. */
    models: z.record(z.string().min(1), z.record(nameSchema, z.string().min(1))).default({}),
    routes: z.array(routeSchema).min(1),
    tenants: z.record(nameSchema, tenantSchema).default({}),
    auth: authSchema.default({}),
    privacy: privacySchema.default({ default: 'internal', patterns: [], keywords: [], cross_boundary: true, redact: [] }),
    limits: z
      .strictObject({ max_body_bytes: z.number().int().positive().default(4 * 1024 * 1024) })
      .default({ max_body_bytes: 4 * 1024 * 1024 }),
    resilience: resilienceSchema,
    cache: cacheSchema,
  })
  .superRefine((policy, ctx) => {
    // Cross-references, reported at the exact path so the loader can point at the line.
    const known = new Set(Object.keys(policy.targets));
    const routeNames = new Map<string, number>();
    policy.routes.forEach((route, i) => {
      route.targets.forEach((name, j) => {
        if (!known.has(name)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'targets', j], message: `unknown target '${name}'` });
        } else if (route.targets.indexOf(name) !== j) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'targets', j], message: `target '${name}' is listed twice` });
        }
      });
      if (route.name !== undefined) {
        if (routeNames.has(route.name)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `duplicate route name '${route.name}'` });
        }
        routeNames.set(route.name, i);
      }
      const tenants = route.match.tenant === undefined ? [] : ([] as string[]).concat(route.match.tenant);
      tenants.forEach((t) => {
        if (policy.tenants[t] === undefined && t !== 'anonymous') {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'match', 'tenant'], message: `unknown tenant '${t}'` });
        }
      });
    });
    for (const [alias, perTarget] of Object.entries(policy.models)) {
      for (const name of Object.keys(perTarget)) {
        if (!known.has(name)) {
          ctx.addIssue({ code: 'custom', path: ['models', alias, name], message: `unknown target '${name}'` });
        }
      }
    }
    for (const [name, target] of Object.entries(policy.targets)) {
      if (target.kind === 'openai-compatible' && target.url === undefined) {
        ctx.addIssue({ code: 'custom', path: ['targets', name, 'url'], message: 'required for kind openai-compatible' });
      }
    }
    const seenKeys = new Map<string, string>();
    for (const [name, tenant] of Object.entries(policy.tenants)) {
      if (name === 'anonymous') {
        ctx.addIssue({ code: 'custom', path: ['tenants', name], message: "'anonymous' is the tenant of callers without a key" });
      }
      tenant.routes?.forEach((r, j) => {
        if (!routeNames.has(r)) {
          ctx.addIssue({ code: 'custom', path: ['tenants', name, 'routes', j], message: `unknown route '${r}' (routes need a name to be listed)` });
        }
      });
      tenant.keys.forEach((k, j) => {
        const other = seenKeys.get(k);
        if (other !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['tenants', name, 'keys', j], message: `this key already belongs to tenant '${other}'` });
        }
        seenKeys.set(k, name);
      });
    }
    policy.privacy.patterns.forEach((rule, i) => {
      try {
        new RegExp(rule.pattern, rule.flags);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        ctx.addIssue({ code: 'custom', path: ['privacy', 'patterns', i, 'pattern'], message: `invalid regular expression (${why})` });
      }
    });
    const ruleNames = new Set<string>();
    for (const [list, rules] of [['patterns', policy.privacy.patterns], ['keywords', policy.privacy.keywords]] as const) {
      rules.forEach((rule, i) => {
        const full = `${list}.${rule.name}`;
        if (ruleNames.has(full)) ctx.addIssue({ code: 'custom', path: ['privacy', list, i, 'name'], message: `duplicate name '${rule.name}'` });
        ruleNames.add(full);
      });
    }
    const detectors = policy.privacy.detectors ?? [];
    detectors.forEach((d, i) => {
      if (detectors.indexOf(d) !== i) ctx.addIssue({ code: 'custom', path: ['privacy', 'detectors', i], message: `duplicate detector '${d}'` });
    });
  });

export type PolicyFile = z.output<typeof policySchema>;
export type PrivacyClass = z.output<typeof privacyClassSchema>;
export type Strategy = z.output<typeof strategySchema>;
export type Runtime = z.output<typeof runtimeSchema>;
