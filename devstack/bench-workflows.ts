// Workflows for the end-to-end benchmark: the real trigger run, and a
// baseline that costs what Temporal itself costs for three activities.
import { proxyActivities } from '@temporalio/workflow';

export { triggerRun } from '../workflows';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds', retry: { maximumAttempts: 3 } });

/** A bare workflow with three no-op activities in sequence. */
export async function baselineRun(): Promise<void> {
  await noop();
  await noop();
  await noop();
}
