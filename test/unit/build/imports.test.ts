import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Import rules that keep the Workers bundle small and the core runtime-free. A named `import { z } from 'zod'`
// makes bundlers keep all of zod's locales (about 60 KiB gzip); `import * as z` lets them drop what is unused.

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const files = sources('src');

describe('source imports', () => {
  it('import zod as a namespace', () => {
    const offenders = files.filter((f) => /import\s*\{\s*z\s*\}\s*from\s*'zod'/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('keep node: modules out of everything but the Node entry (src/node.ts, src/node/) and the CLI', () => {
    const offenders = files.filter(
      (f) => f !== 'src/node.ts' && !f.startsWith('src/node/') && !f.startsWith('src/cli/') && /from\s*'node:/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
