import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../cli/main';
import { TEST_ADMIN_KEY, type TestApi } from '../support/api';
import { startEngineHarness } from '../support/engine-harness';

/** What one CLI invocation printed and how it ended. */
export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** A CLI invocation still running (runs --follow): its output so far, and a way to stop it. */
export interface RunningCli {
  output(): { stdout: string; stderr: string };
  stop(): Promise<CliOutcome>;
}

/** The real API and a real worker on the test stack, a temp folder for files, and the CLI run in process against them. */
export interface CliStack {
  api: TestApi;
  dir: string;
  /** Writes a file under the temp folder (creating folders) and returns its path relative to it. */
  write(relative: string, content: string | object): string;
  cf(argv: string[], env?: NodeJS.ProcessEnv): Promise<CliOutcome>;
  cfRunning(argv: string[]): RunningCli;
  close(): Promise<void>;
}

export async function startCliStack(label: string): Promise<CliStack> {
  const engine = await startEngineHarness(label);
  const { api } = engine;
  const dir = mkdtempSync(path.join(os.tmpdir(), `cf-cli-${label}-`));
  // The CLI must not fall back to a developer's own key file or environment.
  const baseEnv: NodeJS.ProcessEnv = { CREDITFLOW_URL: api.baseUrl, CREDITFLOW_API_KEY: TEST_ADMIN_KEY, CREDITFLOW_DATA_DIR: path.join(dir, '.no-data') };

  function start(argv: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal) {
    let stdout = '';
    let stderr = '';
    const done = run(argv, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env: { ...baseEnv, ...env }, cwd: dir, ...(signal ? { signal } : {}) });
    return { done, output: () => ({ stdout, stderr }) };
  }

  return {
    api,
    dir,
    write(relative, content) {
      const file = path.join(dir, relative);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
      return relative;
    },
    async cf(argv, env = {}) {
      const started = start(argv, env);
      const code = await started.done;
      return { code, ...started.output() };
    },
    cfRunning(argv) {
      const controller = new AbortController();
      const started = start(argv, {}, controller.signal);
      return {
        output: started.output,
        async stop() {
          controller.abort();
          const code = await started.done;
          return { code, ...started.output() };
        },
      };
    },
    async close() {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` holds, or fails naming what it waited for. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
