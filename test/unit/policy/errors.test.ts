import { describe, expect, it } from 'vitest';
import { loadPolicy, PolicyError } from '../../../src/policy/index.js';

// Broken policy files and the exact error each gives: file:line:col: path: message, so a user can fix an edit
// without guessing. A line in `extra` is line 5 onwards (the first four lines are the header below).

const header = `version: 1
targets:
  local: { kind: fastllm, url: "http://127.0.0.1:8000", clearance: restricted }
  cloud: { kind: openai, api_key: sk-x, clearance: internal }
`;
const route = 'routes:\n  - match: { model: "*" }\n    targets: [local]\n';

const cases: [string, string, string[]][] = [
  ['broken YAML', 'version: 1\ntargets: [\n', ['p.yaml:3:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']],
  ['a misspelt key', `${header}${route}    stratgy: fallback\n`, ["p.yaml:6:5: routes.0: unknown key(s) 'stratgy'"]],
  [
    'an unknown strategy',
    `${header}routes:\n  - match: { model: "*" }\n    strategy: round-robin\n    targets: [local]\n`,
    ['p.yaml:7:15: routes.0.strategy: Invalid option: expected one of "fallback"|"weighted"|"least-loaded"|"fastest"'],
  ],
  ['an unknown target', `${header}routes:\n  - match: { model: "*" }\n    targets: [local, gpu]\n`, ["p.yaml:7:22: routes.0.targets.1: unknown target 'gpu'"]],
  ['a target listed twice', `${header}routes:\n  - match: { model: "*" }\n    targets: [local, local]\n`, ["p.yaml:7:22: routes.0.targets.1: target 'local' is listed twice"]],
  [
    'an unknown class in a route match',
    `${header}routes:\n  - match: { model: "*", class: secret }\n    targets: [local]\n`,
    ['p.yaml:6:33: routes.0.match.class: Invalid option: expected one of "public"|"internal"|"confidential"|"restricted"'],
  ],
  [
    'an unknown runtime in reach',
    `${header}${route}`.replace('clearance: restricted }', 'clearance: restricted, reach: [edge] }'),
    ['p.yaml:3:88: targets.local.reach.0: Invalid option: expected one of "node"|"workers"'],
  ],
  [
    'a plaintext key',
    `${header}routes:\n  - name: all\n    match: { model: "*" }\n    targets: [local]\ntenants:\n  team:\n    keys: ["sk-plaintext"]\n`,
    ['p.yaml:11:12: tenants.team.keys.0: a key hash like "sha256:<64 lowercase hex digits>" (see heddle hash-key)'],
  ],
  [
    'a tenant naming an unknown route',
    `${header}routes:\n  - name: all\n    match: { model: "*" }\n    targets: [local]\ntenants:\n  team:\n    routes: [nope]\n`,
    ["p.yaml:11:14: tenants.team.routes.0: unknown route 'nope' (routes need a name to be listed)"],
  ],
  [
    'a route matching an unknown tenant',
    `${header}routes:\n  - match: { model: "*", tenant: ghost }\n    targets: [local]\n`,
    ["p.yaml:6:34: routes.0.match.tenant: unknown tenant 'ghost'"],
  ],
  [
    'an invalid custom pattern',
    `${header}${route}privacy:\n  patterns:\n    - { name: ticket, pattern: "TCK-(", class: confidential }\n`,
    ['p.yaml:10:32: privacy.patterns.0.pattern: invalid regular expression (Invalid regular expression: /TCK-(/: Unterminated group)'],
  ],
  [
    'an unknown detector',
    `${header}${route}privacy:\n  detectors: [secrets, passport]\n`,
    ['p.yaml:9:24: privacy.detectors.1: Invalid option: expected one of "secrets"|"card"|"iban"|"ssn"|"email"|"phone"'],
  ],
  ['a negative cap', `${header}${route}    params: { max_tokens: -5 }\n`, ['p.yaml:8:27: routes.0.params.max_tokens: Too small: expected number to be >0']],
  [
    'an unset environment variable',
    `${header}${route}`.replace('api_key: sk-x', 'api_key: "${OPENAI_KEY}"'),
    ['p.yaml:4:35: environment variable OPENAI_KEY is not set (write ${OPENAI_KEY:-} to allow it to be empty)'],
  ],
  ['an unknown anonymous mode', `${header}${route}auth: { anonymous: everyone }\n`, ['p.yaml:8:20: auth.anonymous: Invalid option: expected one of "local"|"any"|"none"']],
  [
    'two routes with one name',
    `${header}routes:\n  - { name: a, match: { model: x }, targets: [local] }\n  - { name: a, match: { model: y }, targets: [local] }\n`,
    ["p.yaml:7:13: routes.1.name: duplicate route name 'a'"],
  ],
  ['no routes', header, ['p.yaml:1:1: routes: required (array)']],
  [
    'a purpose that is not a name',
    `${header}routes:\n  - match: { model: "*", purpose: "eval uation" }\n    targets: [local]\n`,
    ['p.yaml:6:35: routes.0.match.purpose: names use letters, digits, ".", "_" and "-"'],
  ],
  [
    'a duplicate keyword rule and a bad weight',
    `${header.replace('clearance: internal }', 'clearance: internal, weight: 0 }')}${route}privacy:\n  keywords:\n    - { name: k, words: [atlas], class: confidential }\n    - { name: k, words: [orion], class: confidential }\n`,
    ['p.yaml:4:70: targets.cloud.weight: Too small: expected number to be >0', "p.yaml:11:15: privacy.keywords.1.name: duplicate name 'k'"],
  ],
];

describe('policy errors name file, line, column and path', () => {
  it.each(cases)('%s', (_name, text, expected) => {
    let problems: string[] | undefined;
    try {
      loadPolicy(text, 'p.yaml', {});
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError);
      problems = (err as PolicyError).problems;
    }
    expect(problems).toEqual(expected);
  });
});
