/**
 * Seeded mutation of JSON for the fuzz tests: a valid body with a few values replaced, removed or added, the new
 * values chosen to break parsers and translators (wrong types, extremes, odd strings, deep nesting). The same seed
 * gives the same sequence, so a failure names the seed that reproduces it.
 */
import { seededRandom } from '../../bench/lib/stats.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Stands for 100,000 nested arrays, past any thread's stack: too deep to build and stringify here, so `toText`
 * splices it in.
 */
const DEEP = '\u0000deep\u0000';

/** A value as request or answer text, with every DEEP spliced in. */
export function toText(value: Json): string {
  return JSON.stringify(value).replaceAll(JSON.stringify(DEEP), `${'['.repeat(100_000)}0${']'.repeat(100_000)}`);
}

const ODD_STRINGS = ['', '\u0000', '\ud800', '💥', '__proto__', 'constructor', '*', 'null', 'user', 'assistant', 'tool', 'system', 'text', 'image_url', 'function', 'json_schema', 'tool_use', 'tool_result', 'auto', 'required'];
const ODD_NUMBERS = [0, -1, 0.5, 1e308, -1e308, 2 ** 53 + 1, 4294967297, 1e-320];
const KEYS = ['type', 'text', 'content', 'role', 'name', 'function', 'arguments', 'id', 'schema', 'url', 'image_url', 'index', 'delta', 'input', 'parts', 'args'];

export class Mutator {
  private readonly random: () => number;

  constructor(readonly seed: number) {
    this.random = seededRandom(seed);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  /** A value meant to break whatever reads it. */
  value(depth = 0): Json {
    switch (Math.floor(this.random() * 13)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick(ODD_NUMBERS);
      case 3:
        return Math.floor(this.random() * 1e6) - 5e5;
      case 4:
        return this.pick(ODD_STRINGS);
      case 5:
        return 'x'.repeat(Math.floor(this.random() * 50));
      case 6:
        return [];
      case 7:
        return {};
      case 8:
        return depth < 3 ? [this.value(depth + 1), this.value(depth + 1)] : 1;
      case 9:
        return depth < 3 ? { [this.pick(KEYS)]: this.value(depth + 1) } : 'y';
      case 10:
        return DEEP;
      case 11:
        return Array.from({ length: 500 }, () => 'a');
      default:
        return { type: 'text', text: 'y' };
    }
  }

  /** `body` with one to three values replaced, removed or added somewhere in it (a copy). */
  mutate(body: Json): Json {
    let out = structuredClone(body);
    const edits = 1 + Math.floor(this.random() * 3);
    for (let i = 0; i < edits; i++) {
      const path = this.pick(paths(out));
      const roll = this.random();
      if (path.length > 0 && roll < 0.2) remove(out, path);
      else if (roll < 0.3 && isObject(out)) out[this.pick(KEYS)] = this.value();
      else out = replace(out, path, this.value());
    }
    return out;
  }
}

function isObject(v: Json): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every path into `value`, the value itself first. */
function paths(value: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

function parentOf(root: Json, path: (string | number)[]): Record<string | number, Json> {
  let node = root as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  return node;
}

function replace(root: Json, path: (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  parentOf(root, path)[path.at(-1) as string | number] = value;
  return root;
}

function remove(root: Json, path: (string | number)[]): void {
  const parent = parentOf(root, path);
  const key = path.at(-1) as string | number;
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key];
}
