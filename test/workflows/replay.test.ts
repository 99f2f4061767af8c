// Runs wait up to a year, so a worker must replay histories that older code
// wrote. Every file in histories/ is a real run recorded from a release (see
// histories/record.ts); each must replay on today's workflow code without a
// nondeterminism error. A change that alters what a recorded run would do
// needs `patched()`.
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { runSinks } from '../../engine/worker';
import { historyFromTemporalJson, workflowBundle } from '../support/temporal';

const HISTORIES_DIR = path.join(__dirname, 'histories');
const files = fs.readdirSync(HISTORIES_DIR).filter((file) => file.endsWith('.json')).sort();

beforeAll(() => {
  // A replay starts and stops a worker per history; its state changes are not worth a line each.
  Runtime.install({ logger: new DefaultLogger('WARN') });
});

describe('recorded histories replay on the current workflow code', () => {
  it('has histories to replay: a top-up, a cancelled run, an unmatched price, a script error, forEach with onError, wait_for_event, a balance change, a chain too deep, payment requests succeeded, failed and refused, a cancellation held before its purchase, and one answered by onLateCancel', () => {
    for (const scenario of ['top-up', 'cancelled', 'unmatched-price', 'script-error', 'for-each-on-error', 'wait-for-event', 'balance-event', 'chain-too-deep', 'payment-request-succeeded', 'payment-request-failed', 'payment-request-refused', 'held-cancellation', 'late-cancel-answered']) {
      expect(files.some((file) => file.endsWith(`-${scenario}.json`))).toBe(true);
    }
  });

  it.each(files)('%s', async (file) => {
    const history = historyFromTemporalJson(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
    const results = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), sinks: runSinks(undefined) }, [{ workflowId: file, history }])) results.push(result);
    expect(results).toHaveLength(1);
    expect(results[0]!.error).toBeUndefined();
  });
});
