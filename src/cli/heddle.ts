import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { hashKey } from '../auth/index.js';
import { loadPolicy, PolicyError } from '../policy/index.js';
import { policySchema, runtimeSchema } from '../policy/schema.js';
import { formatSummary, summarizePolicy } from '../policy/summary.js';

// The `heddle` command (Node): check policy files, hash an API key for a policy, print the policy JSON Schema.

const USAGE = `Usage:
  heddle check [--runtime node|workers] [--strict] <policy.yaml>...   validate, print routes; --strict fails on warnings
  heddle hash-key <key>                                               print the sha256:<hex> form for tenants.*.keys
  heddle schema                                                       print the policy JSON Schema`;

export function policyJsonSchema(): string {
  return `${JSON.stringify(z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any' }), null, 2)}\n`;
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: readonly string[], env: Record<string, string | undefined>, read = (f: string) => readFileSync(f, 'utf8')): Promise<CliResult> {
  const [command, ...rest] = args;
  if (command === 'schema') return { code: 0, out: policyJsonSchema(), err: '' };
  if (command === 'hash-key') {
    const key = rest[0];
    if (key === undefined || rest.length !== 1) return { code: 2, out: '', err: `${USAGE}\n` };
    return { code: 0, out: `${await hashKey(key)}\n`, err: '' };
  }
  if (command !== 'check') return { code: 2, out: '', err: `${USAGE}\n` };

  let runtime: z.output<typeof runtimeSchema> = 'node';
  let strict = false;
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    if (arg === '--runtime') {
      const parsed = runtimeSchema.safeParse(rest[++i]);
      if (!parsed.success) return { code: 2, out: '', err: `--runtime must be node or workers\n${USAGE}\n` };
      runtime = parsed.data;
    } else if (arg === '--strict') strict = true;
    else files.push(arg);
  }
  if (files.length === 0) return { code: 2, out: '', err: `${USAGE}\n` };

  const out: string[] = [];
  const err: string[] = [];
  let failed = false;
  for (const file of files) {
    let text: string;
    try {
      text = read(file);
    } catch (e) {
      err.push(`${file}: cannot read (${e instanceof Error ? e.message : String(e)})`);
      failed = true;
      continue;
    }
    try {
      const summary = summarizePolicy(loadPolicy(text, file, env, { runtime }).policy);
      out.push(formatSummary(file, summary));
      if (strict && summary.warnings.length > 0) failed = true;
    } catch (e) {
      failed = true;
      if (e instanceof PolicyError) err.push(...e.problems);
      else err.push(`${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { code: failed ? 1 : 0, out: out.length > 0 ? `${out.join('\n\n')}\n` : '', err: err.length > 0 ? `${err.join('\n')}\n` : '' };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop() ?? '\0');
if (isMain) {
  const result = await runCli(process.argv.slice(2), process.env);
  process.stdout.write(result.out);
  process.stderr.write(result.err);
  process.exitCode = result.code;
}
