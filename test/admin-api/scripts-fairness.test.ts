import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp } from '../../admin-api/app';
import type { KeyResolver } from '../../admin-api/auth';
import { scriptRoutes } from '../../admin-api/scripts/routes';
import { createSandbox, SandboxBusyError, type Sandbox, type ScriptRequest, type ScriptResult } from '../../scripts-sandbox';

const KEYS: Record<string, string> = { 'secret-of-admin-a': 'admin-a', 'secret-of-admin-b': 'admin-b' };
const resolveKey: KeyResolver = async (secret) => (KEYS[secret] ? { keyId: KEYS[secret], scopes: ['admin'] } : null);
const maximums = { maxTimeoutMs: 10_000, maxMemoryMb: 256 };

interface Served {
  url: string;
  close(): Promise<void>;
}

async function serve(sandbox: Pick<Sandbox, 'run'>): Promise<Served> {
  const { app } = createApp({
    logger: pino({ level: 'silent' }),
    resolveKey,
    bodyLimitBytes: 1024 * 1024,
    rateLimits: { ingestion: 1_000, script_test: 1_000 },
    readinessChecks: [],
    modules: [scriptRoutes(sandbox, maximums, { concurrentPerKey: 2 })],
  });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface TestRunResponse {
  status: number;
  retryAfter: string | null;
  contentType: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function testRun(api: Served, secret: string, code: string, timeoutMs?: number): Promise<TestRunResponse> {
  const response = await fetch(`${api.url}/v1/scripts/test`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ code, input: { event: {} }, ...(timeoutMs !== undefined ? { limits: { timeoutMs } } : {}) }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), contentType: response.headers.get('content-type'), body: await response.json() };
}

/** A sandbox whose `hold` runs wait until released, so requests stay in flight as long as a test needs. */
function heldSandbox() {
  const held: Array<() => void> = [];
  const arrivals: Array<() => void> = [];
  const done = (): ScriptResult => ({ ok: true, output: 1, logs: [], durationMs: 0.5, queueMs: 0.25 });
  return {
    held,
    /** Resolves once `count` held runs are in the sandbox. */
    holding(count: number): Promise<void> {
      return new Promise((resolve) => {
        const check = (): void => (held.length >= count ? resolve() : void arrivals.push(check));
        check();
      });
    },
    releaseAll(): void {
      for (const release of held.splice(0)) release();
    },
    sandbox: {
      run: (request: ScriptRequest): Promise<ScriptResult> => {
        if (request.code !== 'hold') return Promise.resolve(done());
        return new Promise((resolve) => {
          held.push(() => resolve(done()));
          for (const arrived of arrivals.splice(0)) arrived();
        });
      },
    },
  };
}

describe('script test-runs under load', () => {
  it('answers 429 script_tests_concurrent to a key with two test-runs in flight, while another key is served', async () => {
    const fake = heldSandbox();
    const api = await serve(fake.sandbox);
    try {
      const first = testRun(api, 'secret-of-admin-a', 'hold');
      const second = testRun(api, 'secret-of-admin-a', 'hold');
      await fake.holding(2);

      const third = await testRun(api, 'secret-of-admin-a', 'return 1');
      expect(third.status).toBe(429);
      expect(third.body.code).toBe('script_tests_concurrent');
      expect(Number(third.retryAfter)).toBeGreaterThan(0);

      const otherKey = await testRun(api, 'secret-of-admin-b', 'return 1');
      expect(otherKey.status).toBe(200);

      fake.releaseAll();
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      expect((await testRun(api, 'secret-of-admin-a', 'return 1')).status).toBe(200);
    } finally {
      fake.releaseAll();
      await api.close();
    }
  });

  it('answers 503 sandbox_busy with Retry-After when the sandbox queue is full, and frees the key\'s slot', async () => {
    let busy = true;
    const api = await serve({
      run: async () => {
        if (busy) throw new SandboxBusyError(10, 4);
        return { ok: true, output: 1, logs: [], durationMs: 0.5, queueMs: 0.25 };
      },
    });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const refused = await testRun(api, 'secret-of-admin-a', 'return 1');
        expect(refused.status).toBe(503);
        expect(refused.contentType).toMatch(/^application\/problem\+json/);
        expect(refused.retryAfter).toBe('10');
        expect(refused.body).toMatchObject({ status: 503, code: 'sandbox_busy' });
      }
      busy = false;
      expect((await testRun(api, 'secret-of-admin-a', 'return 1')).status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('serves another admin\'s innocent script before one admin\'s spinning scripts stop, reporting queue wait apart from run time', async () => {
    const sandbox = createSandbox({ processes: 3 });
    const api = await serve(sandbox);
    try {
      const finished: string[] = [];
      const spin = (label: string) => testRun(api, 'secret-of-admin-a', 'while (true) {}', 3_000).then((response) => {
        finished.push(label);
        return response;
      });
      const hostile = [spin('hostile-1'), spin('hostile-2'), spin('hostile-3')];
      const innocent = await testRun(api, 'secret-of-admin-b', 'return 1');
      finished.push('innocent');
      const [first, second, third] = await Promise.all(hostile);

      expect(innocent.status).toBe(200);
      expect(innocent.body).toMatchObject({ ok: true, output: 1 });
      expect(typeof innocent.body.queueMs).toBe('number');
      expect(typeof innocent.body.durationMs).toBe('number');
      const responses = [first!, second!, third!];
      expect(responses.map((response) => response.status).sort()).toEqual([200, 200, 429]);
      responses.forEach((response, index) => {
        if (response.status !== 200) return;
        expect(response.body.error.code).toBe('script_timeout');
        expect(finished.indexOf('innocent')).toBeLessThan(finished.indexOf(`hostile-${index + 1}`));
      });
    } finally {
      await api.close();
      sandbox.dispose();
    }
  });

  it('answers 503 sandbox_stopped with Retry-After when the sandbox process is killed during the run, and runs the retry', async () => {
    const sandbox = createSandbox({ processes: 1 });
    const api = await serve(sandbox);
    try {
      expect((await testRun(api, 'secret-of-admin-a', 'return 1')).status).toBe(200);
      const [pid] = sandbox.childPids();
      const spinning = testRun(api, 'secret-of-admin-a', 'const end = Date.now() + 2000; while (Date.now() < end) {} return 1', 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(pid!, 'SIGKILL');
      const stopped = await spinning;
      expect(stopped.status).toBe(503);
      expect(stopped.contentType).toMatch(/^application\/problem\+json/);
      expect(stopped.retryAfter).toBe('1');
      expect(stopped.body).toMatchObject({ status: 503, code: 'sandbox_stopped' });
      const retried = await testRun(api, 'secret-of-admin-a', 'return 2');
      expect(retried).toMatchObject({ status: 200, body: { ok: true, output: 2 } });
    } finally {
      await api.close();
      sandbox.dispose();
    }
  });
});
