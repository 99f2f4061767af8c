// `npm run bench:renewals [subscriptions]` (default 10,000): on a throwaway
// stack (Temporal dev server, FerretDB, MailDev, the API over HTTP and one
// worker with the firing activities) it opens that many accounts with a due
// subscription each (every tenth owner holds less than the price and has a
// customer profile with an email address), and times one firing of the
// product's renewal trigger (a scheduled trigger whose one task is
// `subscription_renewals`, as examples/subscription-renewals without the
// admin email): from POST /v1/triggers/{id}/fire to its run closed. Prints
// the firing summary's `report` and checks its counts. The last stdout line
// is the BENCH_RESULT line `npm run bench` reads.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { msToNumber } from '@temporalio/common/lib/time';
import type { StringValue } from '@temporalio/common';
import type { FiringSummary } from '../engine/schedules/firing-store';
import { createSubscriptionStore } from '../engine/subscriptions/subscription-store';
import { subscriptionRenewalsKind } from '../tasks/subscription-renewals';
import { printBenchResult } from './bench-result';
import { startFiringBenchStack } from './bench-firing-stack';

const COUNT = Number(process.argv[2] ?? 10_000);
const TASK_QUEUE = 'bench-renewals';
const ADMIN_KEY = 'bench-admin-key-0123456789';
const plan = { name: 'Pro', price: { amount: 30, unit: 'CREDIT' }, periodDays: 30 };

/** Runs `work` for 0..count-1 with `limit` in flight. */
async function inPool(count: number, limit: number, work: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) await work(next++);
  }));
}

async function main(): Promise<void> {
  const { store, client, ledger, http, stop } = await startFiringBenchStack({ dbName: 'bench_renewals', taskQueue: TASK_QUEUE, adminKey: ADMIN_KEY });
  try {
    console.log(`${COUNT} due subscriptions; one API, one worker, Temporal dev server (in memory), FerretDB on SQLite; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}); node ${process.version}; ${new Date().toISOString()}\n`);
    // Subscriptions are written through the store (the API would check each owner's profile); the refused owners get a profile with an address through the API, so their notices are emailed.
    const subscriptions = createSubscriptionStore({ connection: store, ledger, ownerKnown: async () => true });
    const end = new Date(Date.now() - 60_000);
    const setupStart = performance.now();
    await inPool(COUNT, 32, async (index) => {
      const ownerId = `owner_${String(index).padStart(6, '0')}`;
      const refused = index % 10 === 0;
      if (refused) {
        const profile = await http.call('PUT', `/v1/customers/${ownerId}`, { name: 'Bench', email: `${ownerId}@example.com` });
        if (profile.status >= 300) throw new Error(`PUT customer answered ${profile.status}: ${JSON.stringify(profile.body)}`);
      }
      await ledger.post({ ownerId, unit: 'CREDIT', direction: 'credit', amount: refused ? 10 : 100, idempotencyKey: `fund:${ownerId}`, createIfMissing: true, source: { kind: 'api', keyId: 'bench' } });
      await subscriptions.put(`sub_${String(index).padStart(6, '0')}`, { ownerId, plan, currentPeriodEnd: end, autoRenew: true });
    });
    console.log(`set up in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);

    const created = await http.call<{ id: string }>('POST', '/v1/triggers', { name: 'Bench renewals', on: { schedule: { cron: '0 6 1 1 *', timezone: 'UTC' } }, tasks: [{ id: 'renew', type: 'subscription_renewals', horizonDays: 0 }] });
    if (created.status !== 201) throw new Error(`POST /v1/triggers answered ${created.status}: ${JSON.stringify(created.body)}`);
    const triggerId = created.body.id;
    const startedAt = performance.now();
    const fired = await http.call<FiringSummary>('POST', `/v1/triggers/${triggerId}/fire`, {});
    if (fired.status !== 202) throw new Error(`fire answered ${fired.status}: ${JSON.stringify(fired.body)}`);
    const firingPath = `/v1/triggers/${triggerId}/firings/${encodeURIComponent(fired.body.firingId)}`;
    let firing: FiringSummary;
    for (;;) {
      firing = (await http.call<FiringSummary>('GET', firingPath)).body;
      if (firing.status !== 'pending' && firing.status !== 'running') break;
      await sleep(100);
    }
    if (firing.status !== 'completed' || firing.started !== 1) throw new Error(`the firing did not start its run: ${JSON.stringify(firing)}`);
    await client.workflow.getHandle(`${triggerId}:${fired.body.firingId}`).result();
    const wallMs = performance.now() - startedAt;
    firing = (await http.call<FiringSummary>('GET', firingPath)).body;
    const report = firing.report;
    console.log(`firing: fire -> run closed in ${(wallMs / 1000).toFixed(1)} s: ${((COUNT / wallMs) * 1000).toFixed(0)} subscriptions/s`);
    console.log(`report: ${JSON.stringify(report)}`);
    const refused = Math.ceil(COUNT / 10);
    if (!report || report.considered !== COUNT || report.renewed !== COUNT - refused || report.refused !== refused || report.failed !== 0 || report.notified !== refused) {
      throw new Error(`the report is not what the subscriptions call for (${COUNT - refused} renewed, ${refused} refused and notified)`);
    }
    const taskTimeoutMs = msToNumber(subscriptionRenewalsKind.execution.startToCloseTimeout as StringValue);
    printBenchResult({ bench: 'renewals', subscriptions: COUNT, wallMs, taskTimeoutMs });
  } finally {
    await stop();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
