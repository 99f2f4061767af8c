import { isWebhookError } from './errors';

/** How long a receiver counts as failing after a call to it failed in a way that may pass. */
export const RECEIVER_FAILING_FOR_MS = 30_000;
/** A call running longer than this makes its receiver count as failing while it runs. */
export const RECEIVER_SLOW_CALL_MS = 1_000;
/** Receivers whose state is kept; beyond it the least recently called is forgotten. */
const MAX_RECEIVERS = 1_000;

interface ReceiverState {
  failedAt: number | undefined;
  /** When each call in flight started. */
  running: Set<{ startedAt: number }>;
}

/**
 * Which webhook receivers are failing, by origin (scheme, host and port): one
 * whose last call failed in a way that may pass (a timeout, a network error,
 * a 5xx or 429 answer) less than RECEIVER_FAILING_FOR_MS ago, or one with a
 * call running for longer than RECEIVER_SLOW_CALL_MS. A call answered, or
 * refused for good (a 4xx: the receiver works), clears the failure. The
 * webhook task's first attempt runs in the worker's few local-activity slots
 * and leaves such a receiver to the regular activity (tasks/webhook.ts).
 */
export function receiverHealth(clock: () => number = Date.now) {
  const receivers = new Map<string, ReceiverState>();

  function stateOf(origin: string): ReceiverState {
    const state = receivers.get(origin) ?? { failedAt: undefined, running: new Set() };
    // Most recently called last, so the first key is the one to forget.
    receivers.delete(origin);
    receivers.set(origin, state);
    if (receivers.size > MAX_RECEIVERS) receivers.delete(receivers.keys().next().value!);
    return state;
  }

  return {
    async watch<T>(origin: string, call: () => Promise<T>): Promise<T> {
      const state = stateOf(origin);
      const started = { startedAt: clock() };
      state.running.add(started);
      try {
        const result = await call();
        state.failedAt = undefined;
        return result;
      } catch (error) {
        state.failedAt = isWebhookError(error) && !error.retryable ? undefined : clock();
        throw error;
      } finally {
        state.running.delete(started);
      }
    },

    isFailing(origin: string): boolean {
      const state = receivers.get(origin);
      if (!state) return false;
      const now = clock();
      if (state.failedAt !== undefined && now - state.failedAt < RECEIVER_FAILING_FOR_MS) return true;
      for (const { startedAt } of state.running) if (now - startedAt > RECEIVER_SLOW_CALL_MS) return true;
      return false;
    },
  };
}
