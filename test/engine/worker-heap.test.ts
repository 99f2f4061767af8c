import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { capWorkflowThreadYoungGeneration, WORKFLOW_THREAD_SEMI_SPACE_MB } from '../../engine/worker';

const MB = 1024 * 1024;
/** What a capped thread's new space stays under: its two semi-spaces and a semi-space's worth of slack. */
const YOUNG_GENERATION_BOUND = 3 * WORKFLOW_THREAD_SEMI_SPACE_MB * MB;

/**
 * A thread that allocates as a busy workflow thread does (many short-lived
 * objects, some surviving a while) and reports the largest its new space
 * became, in bytes. Left to V8's defaults on this machine class it grows to
 * 128 MB.
 */
const ALLOCATING_THREAD = `
const v8 = require('node:v8');
const { parentPort } = require('node:worker_threads');
let kept = [];
let largest = 0;
for (let i = 0; i < 3e6; i++) {
  kept.push({ i, text: 'x' + i });
  if (kept.length > 100000) kept = [];
  if (i % 100000 === 0) largest = Math.max(largest, v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size);
}
parentPort.postMessage(largest);`;

async function largestNewSpace(): Promise<number> {
  const thread = new Worker(ALLOCATING_THREAD, { eval: true });
  const [largest] = (await once(thread, 'message')) as [number];
  await thread.terminate();
  return largest;
}

describe("the workflow threads' young generation", () => {
  it('stays near two semi-spaces of the cap in threads started after the worker sets it', async () => {
    capWorkflowThreadYoungGeneration();
    const largest = await largestNewSpace();
    expect(largest).toBeGreaterThan(0);
    // Two semi-spaces plus V8's page slack (32.25 MB seen), far below the 128 MB the default reaches.
    expect(largest).toBeLessThan(YOUNG_GENERATION_BOUND);
  });

  it("leaves an operator's own --max-semi-space-size in force", async () => {
    const program = `
      const { capWorkflowThreadYoungGeneration } = require('./engine/worker');
      capWorkflowThreadYoungGeneration();
      const { Worker } = require('node:worker_threads');
      const thread = new Worker(${JSON.stringify(ALLOCATING_THREAD)}, { eval: true });
      thread.on('message', (largest) => { console.log(largest); process.exit(0); });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', '-e', program], { cwd: `${__dirname}/../..` });
    // Allowed 2 x 64 MB, the thread's new space grows past what the cap would allow.
    expect(Number(stdout.trim())).toBeGreaterThan(YOUNG_GENERATION_BOUND);
  }, 60_000);
});
