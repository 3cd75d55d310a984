import * as z from 'zod';
import { resilienceSchema } from '../resilience/config.js';

// The policy file as written by users. Strict objects: a misspelt key is an error, not a silent no-op.
// This is the raw form; compile.ts turns it into the immutable runtime form the request path reads.

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

export const targetSchema = z.strictObject({
  kind: targetKindSchema,
  url: z.url({ protocol: /^https?$/ }).optional(),
  api_key: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  clearance: privacyClassSchema.default('internal'),
  weight: z.number().positive().default(1),
  description: z.string().optional(),
});

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'names use letters, digits, ".", "_" and "-"');

export const routeSchema = z.strictObject({
  name: nameSchema.optional(),
  match: z.strictObject({
    /** A model alias or a glob over the names clients send ("*" matches any run of characters). */
    model: z.string().min(1),
  }),
  strategy: z.enum(['fallback']).default('fallback'),
  targets: z.array(nameSchema).min(1),
});

export const policySchema = z
  .strictObject({
  version: z.literal(1),
  targets: z.record(nameSchema, targetSchema).refine((t) => Object.keys(t).length > 0, 'at least one target'),
  /** Alias -> target name -> model id on that target. */
    models: z.record(z.string().min(1), z.record(nameSchema, z.string().min(1))).default({}),
  routes: z.array(routeSchema).min(1),
  privacy: z.strictObject({ default: privacyClassSchema.default('internal') }).default({ default: 'internal' }),
  limits: z
    .strictObject({ max_body_bytes: z.number().int().positive().default(4 * 1024 * 1024) })
    .default({ max_body_bytes: 4 * 1024 * 1024 }),
    resilience: resilienceSchema,
  })
  .superRefine((policy, ctx) => {
    // Cross-references, reported at the exact path so the loader can point at the line.
    const known = new Set(Object.keys(policy.targets));
    policy.routes.forEach((route, i) => {
      route.targets.forEach((name, j) => {
        if (!known.has(name)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'targets', j], message: `unknown target '${name}'` });
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
  });

export type PolicyFile = z.output<typeof policySchema>;
export type PrivacyClass = z.output<typeof privacyClassSchema>;
