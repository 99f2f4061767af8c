import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { documentedTopUpTrigger, topUpEvent } from '../../engine/triggers/documented-top-up';
import { TEST_ADMIN_KEY } from '../support/api';
import { startCliStack, waitFor, type CliStack } from './harness';

let stack: CliStack;

beforeAll(async () => {
  stack = await startCliStack('cli_commands');
});

afterAll(async () => {
  await stack?.close();
});

/** A top-up trigger of its own (key and resource), applied through the CLI; returns the key. */
async function applyTopUp(waitSeconds = 0): Promise<string> {
  const key = `cli-${randomUUID().slice(0, 8)}`;
  const file = stack.write(`${key}.yaml`, stringify({ kind: 'trigger', key, ...documentedTopUpTrigger({ name: `Top-up ${key}`, resourceId: key, waitSeconds }) }));
  expect((await stack.cf(['apply', file])).code).toBe(0);
  return key;
}

function purchaseFile(key: string, priceInt = 5000): { file: string; eventId: string; userId: string } {
  const eventId = `evt_${randomUUID()}`;
  const userId = `user_${randomUUID().slice(0, 8)}`;
  const event = topUpEvent({ eventId, reservationId: `res_${randomUUID().slice(0, 8)}`, priceInt, user: { id: userId, email: `${userId}@example.com`, name: 'Ada' }, resourceId: key });
  return { file: stack.write(`events/${eventId}.json`, event), eventId, userId };
}

async function runStatus(workflowId: string): Promise<string> {
  return (await stack.api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`)).body.status;
}

describe('creditflow script test', () => {
  it('prints the output, logs and duration of a script', async () => {
    const script = stack.write('compute.js', "console.log('price', reservation.price_int);\nreturn { amount_cents: reservation.price_int * 2 };");
    const event = stack.write('event.yaml', stringify({ id: 'evt_1', type: 'request.created', data: { reservation: { price_int: 5000 } } }));
    const ok = await stack.cf(['script', 'test', script, '--event', event]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok in [\d.]+ ms\noutput:\n  \{\n    "amount_cents": 10000\n  \}\nlogs:\n  price 5000\n$/);
  });

  it('prints a script error with its line and column, and exits 1', async () => {
    const runtime = stack.write('throws.js', "const a = 1;\nthrow new Error('boom');");
    const failed = await stack.cf(['script', 'test', runtime]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^throws\.js:2:\d+: script_runtime: .*boom.* \(line 2, column \d+\)\n/);
    const syntax = stack.write('syntax.js', 'let a = 1;\nreturn {;');
    const json = await stack.cf(['script', 'test', syntax, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'script_syntax', line: 2 } });
    expect(await stack.cf(['script', 'test', 'missing.js'])).toMatchObject({ code: 1, stderr: 'error: missing.js: no such file\n' });
  });
});

describe('creditflow dry-run', () => {
  it('says which trigger matches and what each task would do', async () => {
    const key = await applyTopUp(60);
    const { file, userId } = purchaseFile(key);
    const result = await stack.cf(['dry-run', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`"Top-up ${key}" (${key}, trg_`);
    expect(result.stdout).toContain('waits 60 s, then:');
    expect(result.stdout).toContain('  compute  script  would complete: output {"amount_cents":6000,"vars":{"DOLLARS":"$60"}}');
    expect(result.stdout).toContain(`  credit  account  would complete: credit 6000 USD to ${userId} (a new account): balance 0 -> 6000`);
    expect(result.stdout).toContain(`  notify  email  would complete: email to ${userId}@example.com: "Your account was credited with $60"`);
    expect(result.stdout).toContain('Nothing was posted, sent or started.');

    const one = await stack.cf(['dry-run', file, '--trigger', key, '--json']);
    expect(JSON.parse(one.stdout)).toMatchObject({ matched: [{ triggerKey: key, tasks: [{ outcome: 'would_complete' }, { outcome: 'would_complete' }, { outcome: 'would_complete' }] }], notMatched: [] });
    expect(await stack.cf(['dry-run', file, '--trigger', 'no-such-trigger'])).toMatchObject({ code: 1, stderr: 'error: --trigger: no trigger has the key or id "no-such-trigger"\n' });
  });
});

describe('creditflow events send', () => {
  it('sends an event, and says when it was a duplicate', async () => {
    const key = await applyTopUp();
    const { file, eventId } = purchaseFile(key);
    const sent = await stack.cf(['events', 'send', file]);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(new RegExp(`^Event ${eventId} accepted: 1 run\\(s\\) started.\\n  trg_[0-9a-f]+:${eventId}  \\(trigger trg_[0-9a-f]+ v1\\)\\nSignalled no waiting run.\\n$`));
    const again = await stack.cf(['events', 'send', file, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 200, eventId, duplicate: true, runs: [expect.objectContaining({ workflowId: expect.stringContaining(eventId) })] });
  });

  it('signs with a signing secret, and explains a refusal without one', async () => {
    const created = await stack.api.request('POST', '/v1/api-keys', { name: 'CLI test booking system', scopes: ['events:write'], signing: true });
    const { secret, signingSecret } = created.body as { secret: string; signingSecret: string };
    const key = await applyTopUp();

    const signed = purchaseFile(key);
    const ok = await stack.cf(['events', 'send', signed.file, '--key', secret, '--signing-secret', signingSecret]);
    expect(ok).toMatchObject({ code: 0, stdout: expect.stringContaining(`Event ${signed.eventId} accepted: 1 run(s) started.`) });
    const fromEnv = purchaseFile(key);
    expect((await stack.cf(['events', 'send', fromEnv.file], { CREDITFLOW_API_KEY: secret, CREDITFLOW_SIGNING_SECRET: signingSecret })).code).toBe(0);

    const unsigned = await stack.cf(['events', 'send', purchaseFile(key).file, '--key', secret]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain('signature_missing');
    expect(unsigned.stderr).toContain('pass --signing-secret or set CREDITFLOW_SIGNING_SECRET');
    const wrong = await stack.cf(['events', 'send', purchaseFile(key).file, '--key', secret, '--signing-secret', `${signingSecret}x`]);
    expect(wrong.stderr).toContain('signature_mismatch');
  });
});

describe('creditflow runs', () => {
  it('lists runs with their trigger key and tasks', async () => {
    const key = await applyTopUp();
    const { file, eventId } = purchaseFile(key);
    const sent = JSON.parse((await stack.cf(['events', 'send', file, '--json'])).stdout);
    const workflowId = sent.runs[0].workflowId as string;
    await waitFor('the run to complete', async () => (await runStatus(workflowId)) === 'completed');

    const listed = await stack.cf(['runs', '--trigger', key]);
    expect(listed.code).toBe(0);
    const [header, row, end] = listed.stdout.split('\n');
    expect(header).toMatch(/^STATUS +WORKFLOW ID +TRIGGER +EVENT +STARTED \(UTC\) +TASKS$/);
    expect(row).toMatch(new RegExp(`^completed +${workflowId} +${key} +${eventId} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ +3 completed$`));
    expect(end).toBe('');
    const json = JSON.parse((await stack.cf(['runs', '--trigger', key, '--status', 'completed', '--json'])).stdout);
    expect(json.items).toEqual([expect.objectContaining({ workflowId, trigger: key, status: 'completed', tasksSummary: '3 completed' })]);
    expect((await stack.cf(['runs', '--trigger', key, '--status', 'failed'])).stdout).toBe('No runs.\n');
  });

  it('follows: prints a run that starts after it, and its completion', async () => {
    const key = await applyTopUp();
    const following = stack.cfRunning(['runs', '--trigger', key, '--follow', '--interval', '0.2']);
    await waitFor('the follow to start', () => following.output().stderr.includes('Following runs'));
    const { file, eventId } = purchaseFile(key);
    expect((await stack.cf(['events', 'send', file])).code).toBe(0);
    await waitFor('the completed run to be printed', () => new RegExp(`^completed +\\S+:${eventId} `, 'm').test(following.output().stdout));
    const stopped = await following.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stdout.split('\n')[0]).toMatch(/^STATUS +WORKFLOW ID/);
    expect(stopped.stdout.split('\n').filter((line) => line.includes(eventId)).at(-1)).toMatch(/ 3 completed$/);
  });
});

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the CLI on bad input', () => {
  it('explains an unreachable API, a wrong key, and a bad option value', async () => {
    const closedUrl = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = await stack.cf(['runs', '--url', closedUrl]);
    expect(unreachable).toMatchObject({ code: 1, stderr: expect.stringContaining(`cannot reach the Creditflow API at ${closedUrl} (ECONNREFUSED)`) });
    const wrongKey = await stack.cf(['runs', '--key', 'wrong-key-wrong-key']);
    expect(wrongKey).toMatchObject({ code: 1, stderr: expect.stringContaining('refused the API key from --key (401') });
    const limited = await stack.cf(['runs'], { CREDITFLOW_API_KEY: (await stack.api.request('POST', '/v1/api-keys', { name: 'reader', scopes: ['accounts:read'] })).body.secret });
    expect(limited).toMatchObject({ code: 1, stderr: expect.stringContaining('lacks the scope this needs (403') });
    expect(await stack.cf(['runs', '--status', 'done'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--status must be one of running, completed, failed, cancelled, terminated; got "done"') });
  });
});

describe('the creditflow bin', () => {
  function bin(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [path.resolve(__dirname, '../../cli/bin.cjs'), ...argv], {
      cwd: stack.dir,
      env: { PATH: process.env.PATH, CREDITFLOW_URL: stack.api.baseUrl, CREDITFLOW_API_KEY: TEST_ADMIN_KEY, CREDITFLOW_DATA_DIR: path.join(stack.dir, '.no-data') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  it('runs as its own process: sends an event, and exits 2 on an unknown command', async () => {
    const key = await applyTopUp(60);
    const { file, eventId } = purchaseFile(key);
    const sent = await bin(['events', 'send', file]);
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    expect(sent.stdout).toContain(`Event ${eventId} accepted: 1 run(s) started.`);
    expect(await bin(['launch'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "launch"') });
  });
});
