// Workflows for the sweep benchmark: the real firing and trigger run, and a
// bare workflow whose start costs what Temporal itself costs for one start.
export { scheduledFiring, triggerRun } from '../workflows';

/** Does nothing: the baseline's runs. */
export async function bareRun(): Promise<void> {
  return undefined;
}
