import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { configVariables, loadConfig } from '@keelson/config';
import { repoRoot } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { envExample } from '../src/envExample.ts';

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

describe('.env.example', () => {
  it('is what `pnpm env:example` generates from the config schema and the docs/configuration.md table', () => {
    expect(read('.env.example')).toBe(envExample(read('docs/configuration.md')));
  });

  it('lists every variable once, each with a meaning', () => {
    const text = read('.env.example');
    for (const name of configVariables) {
      expect(text.match(new RegExp(`^#${name}=`, 'gm')), name).toHaveLength(1);
      expect(text, name).toMatch(new RegExp(`^# ${name}: \\S`, 'm'));
    }
  });

  it('states the real defaults: uncommented whole, it configures exactly what no configuration does', () => {
    const uncommented = read('.env.example').replace(/^#([A-Z0-9_]+=)/gm, '$1');
    const env = Object.fromEntries(Object.entries(parseEnv(uncommented)).filter(([, v]) => v !== ''));
    expect(Object.keys(env).length).toBeGreaterThan(40);
    expect(loadConfig(env)).toEqual(loadConfig({}));
  });
});
