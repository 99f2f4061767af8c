import type { TestStack } from '../../devstack/test-stack';
import { TEST_STACK_KEY } from './global-setup';

/** Stops what the global setup started; jest runs this after failures too. */
export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as Record<symbol, unknown>)[TEST_STACK_KEY] as TestStack | undefined;
  await stack?.stop();
}
