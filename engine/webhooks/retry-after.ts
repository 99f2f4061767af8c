/** A Retry-After longer than a day is read as a day: the task's retry policy bounds the wait anyway. */
export const WEBHOOK_MAX_RETRY_AFTER_SECONDS = 86_400;

/**
 * Reads a Retry-After header, either delay-seconds or an HTTP date, as whole
 * seconds from `nowMs` (0 for a date in the past, at most a day). Returns
 * undefined when the header is absent or says neither.
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  let seconds: number;
  if (/^\d{1,10}$/.test(text)) {
    seconds = Number(text);
  } else {
    const atMs = Date.parse(text);
    if (!/[a-z]/i.test(text) || Number.isNaN(atMs)) return undefined;
    seconds = Math.max(0, Math.ceil((atMs - nowMs) / 1000));
  }
  return Math.min(seconds, WEBHOOK_MAX_RETRY_AFTER_SECONDS);
}
