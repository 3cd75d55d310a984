import { describe, expect, it } from 'vitest';
import { detectSecrets } from '../../../src/privacy/detectors/secrets.js';
import { NEAR_MISSES, SECRETS } from './fixtures.js';

const found = (text: string) => detectSecrets(text).map((f) => [f.kind, text.slice(f.start, f.end)]);

describe('detectSecrets', () => {
  it.each(Object.entries(SECRETS))('finds %s alone, in prose, in code and in JSON', (kind, secret) => {
    expect(found(secret)).toEqual([[kind, secret]]);
    expect(found(`Here is the value: ${secret} — keep it safe.`)).toEqual([[kind, secret]]);
    expect(found(`const key = "${secret}";`)).toEqual([[kind, secret]]);
    expect(detectSecrets(JSON.stringify({ value: secret })).map((f) => f.kind)).toEqual([kind]);
  });

  it('reports each secret in a text with its kind', () => {
    const text = `aws=${SECRETS['secret.aws_access_key']}\ngh=${SECRETS['secret.github_token']}\n`;
    expect(detectSecrets(text).map((f) => f.kind)).toEqual(['secret.aws_access_key', 'secret.github_token']);
  });

  it('tells Anthropic keys from OpenAI keys', () => {
    expect(detectSecrets(SECRETS['secret.anthropic_key'] ?? '').map((f) => f.kind)).toEqual(['secret.anthropic_key']);
    const classic = `sk-${'aB3dE6fG9hJ2kL5mN8pQ1rS4tU7vW0xY3zA6bC9dE2fG5h'}`;
    expect(detectSecrets(classic).map((f) => f.kind)).toEqual(['secret.openai_key']);
  });

  it('finds connection strings for several schemes, and an empty user', () => {
    for (const url of [
      'mysql://root:hunter2@127.0.0.1:3306/app',
      'mongodb+srv://svc:p%40ss@cluster0.example.mongodb.net/db',
      'redis://:verysecret@cache:6379/0',
      'amqps://guest:guest-pw@mq.example.com/vhost',
      'https://deploy:tok3n@git.example.com/org/repo.git',
    ]) {
      expect(found(`url = ${url}`).map(([kind]) => kind)).toEqual(['secret.connection_string']);
    }
  });

  it('finds a PEM header even when the key body was cut off', () => {
    expect(found('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA')[0]?.[0]).toBe('secret.private_key');
    expect(found('-----BEGIN PRIVATE KEY-----')[0]?.[0]).toBe('secret.private_key');
    expect(found('-----BEGIN ENCRYPTED PRIVATE KEY-----')[0]?.[0]).toBe('secret.private_key');
  });

  it('finds a Slack webhook URL', () => {
    const hook = ['https://hooks.slack.com/services/', 'T0123ABCD/', 'B0456EFGH/', 'aBcDeFgHiJkLmNoPqRsTuVwX'].join('');
    expect(found(hook).map(([kind]) => kind)).toEqual(['secret.slack_token']);
  });

  it.each([
    ['library name', 'we use sk-learn-and-friends-for-modeling here'],
    ['kebab-case identifier', 'sk-some-very-long-identifier-name-here'],
    ['word containing sk-', 'task-1234567890abcdefghijABCDEFGHIJ'],
    ['short GitHub prefix', 'ghp_short'],
    ['AWS-like but too short', 'AKIA1234'],
    ['AWS-like inside a word', 'XAKIAIOSFODNN7EXAMPLE'],
    ['JWT-like without a JSON header', 'eyJub3QganNvbg.eyJzdWIiOiIxIn0.sig'],
    ['JWT-like header without alg', 'eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln'],
    ['URL without password', 'postgres://user@db.example.com/app'],
    ['URL without credentials', 'postgres://db.example.com:5432/app and https://example.com/a?b=c'],
    ['password from env placeholder', 'postgres://user:${PGPASSWORD}@db/app'],
    ['password template', 'postgres://user:{{password}}@db/app and mysql://u:<password>@h/d'],
    ['masked password', 'postgres://user:****@db/app'],
    ['public key', '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----'],
    ['certificate', '-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+g\n-----END CERTIFICATE-----'],
    ['Stripe publishable key', `pk_live_${'51H8aBcDeFgHiJkLmNoPqRsTu'}`],
    ['Hugging Face function name', 'from huggingface_hub import hf_hub_download'],
    ['Slack-like word', 'xoxo-hugs-and-kisses-forever'],
  ])('ignores %s', (_why, text) => {
    expect(detectSecrets(text)).toEqual([]);
  });

  it.each(NEAR_MISSES)('no secret in near-miss: %s', (text) => {
    expect(detectSecrets(text)).toEqual([]);
  });
});
