// Deterministic "realistic" chat requests: prose, code, logs and JSON tool traffic, with a few sensitive items
// and plenty of near-misses (versions, dates, UUIDs, order ids, SHAs, IPs, timestamps) that must stay clean.
import { seededRandom } from '../lib/stats.js';

const PROSE = [
  'The deployment pipeline builds the container, runs the integration suite and then promotes the image to staging.',
  'Please summarise the following incident report in three bullet points and suggest one follow-up action.',
  'Version 1.2.3.4 of the agent was rolled out on 2024-01-15 at 10:30:00Z to hosts 10.0.0.12 and 192.168.1.20.',
  'Order ORD-2024-000123 shipped in 3 boxes; invoice 20240115-7781 is attached and totals 1,234.56 EUR.',
  'Commit 3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e fixed the race in the scheduler (see issue #4512).',
  'Request 550e8400-e29b-41d4-a716-446655440000 timed out after 30000 ms; the retry at 1700000000123 succeeded.',
  'We measured p50 latency of 12.5 ms and p99 of 87 ms over 1000000 requests with 64 concurrent clients.',
  'The quarterly report covers revenue, churn and the new onboarding flow; section 4.2 needs another review.',
];

const CODE = [
  'function retry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {\n  return fn().catch((e) => (attempts > 1 ? retry(fn, attempts - 1) : Promise.reject(e)));\n}\n',
  'for i in range(0, 1024, 16):\n    block = data[i:i + 16]\n    digest = hashlib.sha256(block).hexdigest()\n    print(f"{i:08d} {digest}")\n',
  'SELECT id, created_at, total FROM orders WHERE created_at > \'2024-01-01\' AND status IN (1, 2, 3) LIMIT 100;\n',
  '{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":512,"seed":1234567890,"stop":["\\n\\n"]}\n',
  '2024-01-15T10:30:00.123Z INFO  worker-7 processed batch 98765 in 1532ms (rows=250000, bytes=104857600)\n',
  'const re = /^(\\d{4})-(\\d{2})-(\\d{2})$/; // ISO date\nexport const VERSION = "4.13.19";\n',
];

const SENSITIVE = [
  'You can reach me at jane.doe@example.com or +1 (415) 555-2671 if the build breaks again.',
  'Charge the card 4111 1111 1111 1111 for the renewal.',
  'The old key AKIAIOSFODNN7EXAMPLE must be rotated.',
  'Wire it to DE89 3704 0044 0532 0130 00 before Friday.',
];

export interface BenchRequest {
  readonly model: string;
  readonly messages: { role: string; content: string | { type: string; text: string }[]; tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[]; tool_call_id?: string }[];
  readonly tools: { type: string; function: { name: string; description: string; parameters: unknown } }[];
}

/** A chat request whose texts total about `bytes` characters, with `sensitive` sensitive sentences spread in. */
export function makeRequest(bytes: number, seed = 42, sensitive = 3): BenchRequest {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const chunks: string[] = [];
  let size = 0;
  while (size < bytes) {
    const s = rand() < 0.65 ? pick(PROSE) : pick(CODE);
    chunks.push(s);
    size += s.length + 1;
  }
  for (let i = 0; i < sensitive; i++) {
    const at = Math.floor(((i + 0.5) / sensitive) * chunks.length);
    chunks.splice(at, 0, SENSITIVE[i % SENSITIVE.length] as string);
  }
  // Spread over a system prompt, alternating turns, one tool call and its result.
  const perMessage = Math.max(1, Math.ceil(chunks.length / 6));
  const parts: string[] = [];
  for (let i = 0; i < chunks.length; i += perMessage) parts.push(chunks.slice(i, i + perMessage).join(' '));
  const messages: BenchRequest['messages'] = [{ role: 'system', content: parts[0] ?? '' }];
  parts.slice(1).forEach((p, i) => {
    if (i === 1) {
      messages.push({
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search_docs', arguments: JSON.stringify({ query: p }) } }],
      });
      messages.push({ role: 'tool', tool_call_id: 'call_1', content: p });
    } else if (i % 2 === 0) messages.push({ role: 'user', content: [{ type: 'text', text: p }] });
    else messages.push({ role: 'assistant', content: p });
  });
  return {
    model: 'teacher',
    messages,
    tools: [
      {
        type: 'function',
        function: {
          name: 'search_docs',
          description: 'Search the internal documentation and return the five best passages.',
          parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
        },
      },
    ],
  };
}
