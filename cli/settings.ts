import fs from 'node:fs';
import path from 'node:path';
import { dataDir } from '../devstack/paths';
import { UsageError } from './io';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Where the CLI sends requests and with what credentials. */
export interface Settings {
  url: string;
  key: string;
  /** Says where the key came from, for 401 messages. */
  keySource: string;
  signingSecret?: string;
}

/** The dev stack's admin key file: `<data dir>/admin-api-key`, written by `npm run dev`. */
export function devKeyFile(env: NodeJS.ProcessEnv): string {
  return path.join(dataDir(env), 'admin-api-key');
}

/** `--url`, else CREDITFLOW_URL, else the dev stack's default; refused unless http(s). */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const url = flag ?? (env.CREDITFLOW_URL || DEFAULT_URL);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`the API URL "${url}" is not a URL (from ${flag !== undefined ? '--url' : 'CREDITFLOW_URL'})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`the API URL "${url}" must start with http:// or https://`);
  return url.replace(/\/+$/, '');
}

/**
 * `--key`, else CREDITFLOW_API_KEY, else ADMIN_API_KEY, else the key file
 * the dev stack writes, so that against `npm run dev` no key needs passing.
 */
export function resolveKey(flag: string | undefined, env: NodeJS.ProcessEnv): { key: string; source: string } {
  if (flag !== undefined) return { key: flag, source: '--key' };
  if (env.CREDITFLOW_API_KEY) return { key: env.CREDITFLOW_API_KEY, source: 'CREDITFLOW_API_KEY' };
  return adminKey(env);
}

/** ADMIN_API_KEY, else the dev stack's key file; the demo and the dev seeding use it too. */
export function adminKey(env: NodeJS.ProcessEnv): { key: string; source: string } {
  if (env.ADMIN_API_KEY) return { key: env.ADMIN_API_KEY, source: 'ADMIN_API_KEY' };
  const file = devKeyFile(env);
  let key = '';
  try {
    key = fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (!key) throw new UsageError(`no API key: pass --key, set CREDITFLOW_API_KEY or ADMIN_API_KEY, or start the dev stack with npm run dev (it writes ${file})`);
  return { key, source: file };
}

export function resolveSettings(flags: { url?: string; key?: string; signingSecret?: string }, env: NodeJS.ProcessEnv): Settings {
  const { key, source } = resolveKey(flags.key, env);
  const signingSecret = flags.signingSecret ?? (env.CREDITFLOW_SIGNING_SECRET || undefined);
  return { url: resolveUrl(flags.url, env), key, keySource: source, ...(signingSecret ? { signingSecret } : {}) };
}
