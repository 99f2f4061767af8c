import { startTestStack, type TestStack } from '../../devstack/test-stack';
import { say } from '../../devstack/say';

/** Where the teardown finds the stack; jest runs setup and teardown in the same process. */
export const TEST_STACK_KEY = Symbol.for('creditflow.testStack');

/**
 * Jest global setup for the integration project: starts FerretDB, a
 * headless in-memory Temporal dev server and MailDev on free ports (unless
 * given by env) and exports their addresses through process.env, which the
 * test workers inherit.
 */
export default async function globalSetup(): Promise<void> {
  const startedAt = Date.now();
  const stack: TestStack = await startTestStack(process.env);
  (globalThis as Record<symbol, unknown>)[TEST_STACK_KEY] = stack;
  Object.assign(process.env, stack.env);
  say(`test stack ready in ${Date.now() - startedAt} ms`);
}
