// The determinism boundary is enforced by lint: workflow files may import
// code from outside workflows/ only as types.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const REPO_DIR = path.resolve(__dirname, '..', '..');

/** Lints `code` as if it were `file`, with the project's own config (ESLint as its CLI runs it). */
async function problemsIn(code: string, file = 'workflows/probe.ts'): Promise<string[]> {
  const eslint = spawnSync(process.execPath, [path.join(REPO_DIR, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--stdin', '--stdin-filename', file, '--format', 'json'], { cwd: REPO_DIR, input: code, encoding: 'utf8' });
  const [result] = JSON.parse(eslint.stdout) as Array<{ messages: Array<{ ruleId: string; message: string }> }>;
  return result!.messages.map((message) => `${message.ruleId}: ${message.message}`);
}

describe('lint rules for workflow code', () => {
  it('refuses a value import from outside workflows/', async () => {
    const problems = await problemsIn("import { loadConfig } from '../engine/config';\nexport const load = loadConfig;\n");
    expect(problems).toEqual([expect.stringContaining('only as types')]);
  });

  it('accepts a type import from outside workflows/ and a value import beside it', async () => {
    expect(await problemsIn("import type { Config } from '../engine/config';\nimport { valueAtPath } from './references';\nexport type C = Config;\nexport const at = valueAtPath;\n")).toEqual([]);
  });

  it('refuses Node built-ins and I/O libraries', async () => {
    expect(await problemsIn("import fs from 'node:fs';\nexport const read = fs.readFileSync;\n")).toEqual([expect.stringContaining('Node built-ins')]);
    expect(await problemsIn("import mongoose from 'mongoose';\nexport const m = mongoose;\n")).toEqual([expect.stringContaining('must not do I/O')]);
  });

  it('leaves the same imports alone outside workflows/', async () => {
    expect(await problemsIn("import { loadConfig } from '../engine/config';\nexport const load = loadConfig;\n", 'activities/probe.ts')).toEqual([]);
  });
});
