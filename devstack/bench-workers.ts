// `npm run bench:workers [runs] [concurrency]` (default 300, 16): throughput
// of the documented top-up (zero wait) with one worker process and with
// two, on one stack started as `npm run chaos` starts it (FerretDB, the
// Temporal dev server, MailDev, 2 APIs and 2 workers as `npm run dev` starts
// them; devstack/chaos-stack.ts), nothing killed. Phases alternate: 2
// workers, 1 (worker-2 stopped), 2, 1; each sends `runs` purchases through
// both APIs at `concurrency` in flight and counts runs/s from the first POST
// to the last run closed. Prints each phase, the totals and the ratio.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { documentedTopUpTrigger, topUpEvent } from '../engine/triggers/documented-top-up';
import { RetryingClient } from './chaos-client';
import { ChaosStack } from './chaos-stack';

const RUNS = Number(process.argv[2] ?? 300);
const CONCURRENCY = Number(process.argv[3] ?? 16);
const DEADLINE_MS = 120_000;

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditflow-bench-workers-'));
  const say = (message: string) => console.log(`bench:workers | ${message}`);
  const stack = await ChaosStack.start(dataDir, say);
  const connection = await Connection.connect({ address: stack.endpoints.temporalAddress });
  try {
    const temporal = new Client({ connection });
    const http = new RetryingClient(stack.endpoints.apiUrls, stack.endpoints.adminKey);
    const created = await http.request<{ id?: string }>('POST', '/v1/triggers', documentedTopUpTrigger({ waitSeconds: 0 }), DEADLINE_MS);
    if (created.answer?.status !== 201) throw new Error(`creating the top-up answered ${created.answer?.status ?? created.lastProblem}`);
    console.log(`${RUNS} top-ups per phase, ${CONCURRENCY} in flight, through 2 APIs; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}); node ${process.version}; ${new Date().toISOString()}\n`);

    let sent = 0;
    const phase = async (label: string, runs: number): Promise<number> => {
      let next = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < runs) {
          next += 1;
          const i = (sent += 1);
          const user = { id: `workers_user_${i}`, email: `w${i}@bench.local`, name: 'Bench' };
          const accepted = await http.request<{ runs?: Array<{ workflowId: string }> }>('POST', '/v1/events', topUpEvent({ eventId: `evt_workers_${i}`, reservationId: `res_workers_${i}`, priceInt: 5000, user }), DEADLINE_MS);
          const workflowId = accepted.answer?.body.runs?.[0]?.workflowId;
          if (accepted.answer?.status !== 202 || !workflowId) throw new Error(`POST /v1/events answered ${accepted.answer?.status ?? accepted.lastProblem}`);
          await temporal.workflow.getHandle(workflowId).result();
        }
      }));
      const perSecond = runs / ((performance.now() - started) / 1000);
      console.log(`  ${label}: ${perSecond.toFixed(1)} runs/s`);
      return perSecond;
    };

    // A warm-up through both workers so bundling, JIT and connection pools do not count.
    await phase('warm-up (2 workers, not counted)', Math.min(RUNS, 50));
    const two: number[] = [];
    const one: number[] = [];
    for (let round = 0; round < 2; round += 1) {
      two.push(await phase('2 workers', RUNS));
      await stack.pause('worker-2');
      one.push(await phase('1 worker ', RUNS));
      await stack.resume('worker-2');
    }
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    console.log(`\n1 worker: ${mean(one).toFixed(1)} runs/s; 2 workers: ${mean(two).toFixed(1)} runs/s; 2 / 1: ${(mean(two) / mean(one)).toFixed(2)}x`);
  } finally {
    await connection.close();
    await stack.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
