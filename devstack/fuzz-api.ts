// The API fuzz step: schemathesis generates requests from the API's own
// /openapi.json and fails on any 5xx or any response the document does not
// describe. It always runs against a throwaway stack (FerretDB and Temporal
// on free ports, data in a temporary folder) and an API of its own with a
// fresh admin key, so it can never write to the dev data or to a store given
// by MONGODB_URI. `npm test` runs it after jest; on its own:
// `node devstack/bootstrap.cjs run devstack/fuzz-api.ts`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { ManagedChild } from './managed-child';
import { OrphanReaper } from './orphan-reaper';
import { REPO_DIR } from './paths';
import { freePort, LOOPBACK } from './ports';
import { say } from './say';
import { SERVICE_STOP_GRACE_MS } from './services';
import { startTestStack, type TestStackEnv } from './test-stack';
import { ensureTools } from './tools';
import { answersHttp, waitUntilReady } from './wait-ready';

/**
 * Test cases per API operation and phase. With 38 operations this keeps
 * the whole step under two minutes on a 2-core machine (about 4,700 requests).
 */
const MAX_EXAMPLES_PER_OPERATION = 25;
/** What a response is checked for: no 5xx, its status documented, and its body as the document says. */
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'response_schema_conformance'];
/** The stateful phase chains calls without a per-operation bound, so only the bounded phases run. */
const PHASES = ['examples', 'coverage', 'fuzzing'];
/** The whole schemathesis run is stopped past this; a hung request must not hang CI. */
const FUZZ_TIMEOUT_MS = 6 * 60_000;
/** Each request gets this long before schemathesis reports it as timed out. */
const REQUEST_TIMEOUT_S = 20;
/** The first start compiles TypeScript and connects to both services. */
const API_READY_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 1_000;
/** The fuzzer sends far more events and script test-runs per minute than the production defaults allow. */
const UNLIMITED_RATE = { RATE_LIMIT_EVENTS_PER_MINUTE: '1000000', RATE_LIMIT_SCRIPT_TESTS_PER_MINUTE: '10000' };

/**
 * Provisions schemathesis, starts the throwaway stack and the API, fuzzes
 * the API, and stops everything it started. Resolves to schemathesis' exit
 * code (0 when every check passed).
 */
export async function runApiFuzz(): Promise<number> {
  const tools = await ensureTools({ ferretdb: true, temporal: true, schemathesis: true });
  // An empty env: services given by MONGODB_URI or TEMPORAL_ADDRESS are never used, whatever is set.
  const stack = await startTestStack({}, { ferretdb: true, temporal: true, maildev: false });
  const reaper = new OrphanReaper();
  let api: ManagedChild | undefined;
  try {
    const adminKey = randomBytes(32).toString('base64url');
    const apiUrl = await freeApiUrl();
    api = startApi(apiUrl, adminKey, stack.env, reaper);
    await waitUntilReady(api, { what: `the API at ${apiUrl}/readyz`, probe: () => answersHttp(`${apiUrl}/readyz`, 200, PROBE_TIMEOUT_MS), timeoutMs: API_READY_TIMEOUT_MS });
    const exitCode = await runSchemathesis(tools.schemathesis!, apiUrl, adminKey);
    if (exitCode !== 0) say(`the API's last log lines:\n${api.tail()}`);
    return exitCode;
  } finally {
    await api?.stop(SERVICE_STOP_GRACE_MS);
    reaper.close();
    await stack.stop();
  }
}

async function freeApiUrl(): Promise<string> {
  return `http://${LOOPBACK}:${await freePort()}`;
}

/** The real API entry as its own process, on the throwaway stack's own database. */
function startApi(apiUrl: string, adminKey: string, stackEnv: TestStackEnv, reaper: OrphanReaper): ManagedChild {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...UNLIMITED_RATE,
    NODE_ENV: 'test',
    HOST: LOOPBACK,
    PORT: new URL(apiUrl).port,
    ADMIN_API_KEY: adminKey,
    MONGODB_URI: `${stackEnv.MONGODB_URI}creditflow_fuzz`,
    TEMPORAL_ADDRESS: stackEnv.TEMPORAL_ADDRESS,
    LOG_LEVEL: 'error',
  };
  const args = ['--import', 'tsx', path.join(REPO_DIR, 'admin-api', 'main.ts')];
  return new ManagedChild({ name: 'api', command: process.execPath, args, cwd: REPO_DIR, env, echo: false }, reaper);
}

/**
 * Runs schemathesis with its report on our stdout and stderr; the report
 * names each failure with a curl that reproduces it. Its lines pass through
 * reframeBanner, so that `npm test` closes on its own count line.
 */
function runSchemathesis(home: string, apiUrl: string, adminKey: string): Promise<number> {
  const args = [
    '-m', 'schemathesis.cli', 'run', `${apiUrl}/openapi.json`,
    '--url', apiUrl,
    '--header', `Authorization: Bearer ${adminKey}`,
    '--checks', CHECKS.join(','),
    '--phases', PHASES.join(','),
    '--max-examples', String(MAX_EXAMPLES_PER_OPERATION),
    // The same cases on every run, so a failure repeats and a pass is not luck.
    '--generation-deterministic',
    '--request-timeout', String(REQUEST_TIMEOUT_S),
    // One worker: CPython 3.11's ast module counts recursion depth per
    // interpreter, not per thread, so two workers that describe strategies at
    // once can fail with "AST constructor recursion depth mismatch" (gh-106905).
    '--workers', '1',
    '--no-color',
  ];
  say(`fuzzing ${apiUrl} (schemathesis: ${CHECKS.join(', ')}; at most ${MAX_EXAMPLES_PER_OPERATION} cases per operation and phase, deterministic)`);
  // Schemathesis keeps a cache of crashes in its working folder; a temporary one keeps the clone clean.
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditflow-fuzz-'));
  return new Promise<number>((resolve) => {
    const child = spawn('python3', args, { cwd: workDir, env: { ...process.env, PYTHONPATH: home, PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: FUZZ_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const streamsDone = Promise.all([relayLines(child.stdout, process.stdout), relayLines(child.stderr, process.stderr)]);
    child.on('error', (error) => {
      say(`could not start schemathesis: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      void streamsDone.then(() => {
        if (signal) say(`schemathesis was stopped by ${signal} (limit ${FUZZ_TIMEOUT_MS / 1000} s)`);
        resolve(code ?? 1);
      });
    });
  }).finally(() => fs.rmSync(workDir, { recursive: true, force: true }));
}

/** Copies a stream line by line through reframeBanner; resolves when the stream ends. */
function relayLines(from: Readable, to: Writable): Promise<void> {
  const lines = readline.createInterface({ input: from, crlfDelay: Infinity });
  lines.on('line', (line) => to.write(`${reframeBanner(line)}\n`));
  return new Promise((resolve) => lines.once('close', resolve));
}

/**
 * Schemathesis frames its section titles and its closing line as pytest
 * does (`=== 2 warnings in 65.48s ===`). A reader of CI logs takes such a
 * last line for pytest closing on a run of no tests, although jest's count
 * follows, so the frames become brackets and the time is written out:
 * `[2 warnings, after 65.48 s]`. Other lines pass unchanged.
 */
export function reframeBanner(line: string): string {
  const banner = /^=+ (.+?) =+$/.exec(line);
  if (!banner) return line;
  return `[${banner[1]!.replace(/ in (\d+(?:\.\d+)?)s$/, ', after $1 s')}]`;
}

if (require.main === module) {
  runApiFuzz().then(
    (exitCode) => process.exit(exitCode),
    (error: unknown) => {
      say(`error: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
