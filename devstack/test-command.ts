import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runApiFuzz } from './fuzz-api';
import { REPO_DIR } from './paths';
import { say } from './say';
import { ensureTools } from './tools';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The checks `npm test` runs, in order; the first failure ends the run with its exit code. */
const STEPS = [
  { title: 'typecheck (tsc --noEmit)', script: 'typescript/bin/tsc', args: ['--noEmit'] },
  { title: 'lint (eslint .)', script: 'eslint/bin/eslint.js', args: ['.'] },
  { title: 'tests (jest)', script: 'jest/bin/jest.js', args: [] },
] as const;

/** The last step, after jest: schemathesis against the API's /openapi.json on a throwaway stack (devstack/fuzz-api.ts). */
const FUZZ_STEP_TITLE = 'API fuzz (schemathesis against /openapi.json)';

/**
 * `npm test`: typecheck, lint, jest with any extra arguments
 * (`npm test -- test/devstack`), then, for a full run only (no arguments,
 * as CI runs it), the API fuzz step. The tools the
 * integration tests need (Chromium for the browser tests, schemathesis for
 * the fuzz step) are provisioned first, so their first-run progress lines
 * are not buried in jest's output. FerretDB is needed even when MONGODB_URI
 * is set: the fuzz step never writes to a store given by env.
 */
export async function runTest(jestArgs: readonly string[]): Promise<number> {
  // The Temporal CLI is also what tests use to read runs as an operator would (`temporal workflow describe`).
  const fullRun = jestArgs.length === 0;
  const tools = await ensureTools({ ferretdb: true, temporal: true, chromium: true, schemathesis: fullRun });
  // Tests find the tools here; jest and its workers inherit them.
  if (tools.chromium) process.env.CHROMIUM_PATH = tools.chromium;
  if (tools.temporal) process.env.TEMPORAL_CLI_PATH = tools.temporal;
  const resultsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditflow-jest-'));
  const resultsFile = path.join(resultsDir, 'results.json');
  try {
    for (const step of STEPS) {
      say(step.title);
      const args = step.script.startsWith('jest') ? [...step.args, '--json', `--outputFile=${resultsFile}`, ...jestArgs] : step.args;
      const exitCode = await runNodeScript(path.join(REPO_DIR, 'node_modules', step.script), args);
      if (exitCode !== 0) {
        say(`${step.title} failed with exit code ${exitCode}`);
        reportCounts(resultsFile);
        return exitCode;
      }
    }
    // A run aimed at some tests skips the fuzz step (2 minutes); `npm test` alone and CI run it.
    if (fullRun) {
      say(FUZZ_STEP_TITLE);
      const fuzzExitCode = await runApiFuzz();
      if (fuzzExitCode !== 0) {
        say(`${FUZZ_STEP_TITLE} failed with exit code ${fuzzExitCode}`);
        reportCounts(resultsFile, 1);
        return fuzzExitCode;
      }
    }
    reportCounts(resultsFile);
    return 0;
  } finally {
    fs.rmSync(resultsDir, { recursive: true, force: true });
  }
}

/**
 * The run's closing line on stdout, `tests: N passed, N failed, N skipped`
 * (jest's counts; a failed fuzz step counts as one more failure), also
 * written to CREDITFLOW_TEST_SUMMARY when set, so that .ci/run can end on it.
 */
function reportCounts(resultsFile: string, extraFailures = 0): void {
  let counts = { passed: 0, failed: extraFailures, skipped: 0 };
  try {
    const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
    counts = { passed: results.numPassedTests, failed: results.numFailedTests + extraFailures, skipped: results.numPendingTests + results.numTodoTests };
  } catch {
    // jest did not get as far as writing its results (a typecheck or lint failure, or a crash): nothing ran.
  }
  const line = `tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`;
  process.stdout.write(`${line}\n`);
  const summaryFile = process.env.CREDITFLOW_TEST_SUMMARY;
  if (summaryFile) fs.writeFileSync(summaryFile, `${line}\n`);
}

/**
 * Runs a package's bin script on this Node (24) with our stdio. Signals we
 * get are passed on, so that jest runs its global teardown; a death by
 * signal counts as a failure.
 */
function runNodeScript(script: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: REPO_DIR, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    child.on('error', () => resolve(1));
    child.on('close', (code, signal) => {
      for (const name of FORWARDED_SIGNALS) process.off(name, forward);
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal as string] ?? 1;
}
