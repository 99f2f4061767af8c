import nodemailer from 'nodemailer';
import type { RenderedEmail } from './render';

/** Sends one rendered email; rejects with nodemailer's error (it carries `responseCode`). */
export interface Mailer {
  send(message: RenderedEmail & { to: string; messageId: string; headers?: Record<string, string> }): Promise<void>;
  /**
   * True while the mail server looks unwell: a send is taking longer than
   * SLOW_SEND_MS, or the last one failed for a reason other than the
   * message (no connection, a timeout, a 4xx) less than FAILING_FOR_MS ago
   * and none has succeeded since. The email task then leaves the message to
   * its regular activity, which retries with backoff, rather than hold one
   * of the worker's local-activity slots (see tasks/email.ts).
   */
  isFailing(): boolean;
  close(): void;
}

/** Open SMTP connections a worker keeps; each carries messages one at a time. */
const SMTP_POOL_CONNECTIONS = 5;
/**
 * How long nodemailer waits to connect, for the greeting, and on a silent
 * socket. Its defaults (2 min, 30 s, 10 min) would let a server that stops
 * answering hold a send far past the email task's attempt timeout.
 */
const SMTP_TIMEOUT_MS = 10_000;
/** A send running longer than this marks the server as failing. */
const SLOW_SEND_MS = 3_000;
/** How long after a failed send the server counts as failing, unless a send succeeds first. */
const FAILING_FOR_MS = 30_000;

/** An SMTP 5xx answer: the server refused the message for good (retrying would repeat the refusal); it is itself working. */
export function isRefusal(error: unknown): boolean {
  const code = (error as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/** Watches sends for the signs of a failing server (see Mailer.isFailing). */
export function sendHealth(clock: () => number = Date.now) {
  const running = new Set<{ startedAt: number }>();
  let failedAt: number | undefined;
  return {
    async watch<T>(send: () => Promise<T>): Promise<T> {
      const started = { startedAt: clock() };
      running.add(started);
      try {
        const result = await send();
        failedAt = undefined;
        return result;
      } catch (error) {
        if (!isRefusal(error)) failedAt = clock();
        throw error;
      } finally {
        running.delete(started);
      }
    },
    isFailing(): boolean {
      const now = clock();
      if (failedAt !== undefined && now - failedAt < FAILING_FOR_MS) return true;
      for (const { startedAt } of running) if (now - startedAt > SLOW_SEND_MS) return true;
      return false;
    },
  };
}

/**
 * SMTP through nodemailer with pooled connections: a fresh connection per
 * message (TCP, EHLO, STARTTLS, AUTH) costs more than sending it.
 */
export function createSmtpMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport({
    url: smtpUrl, pool: true, maxConnections: SMTP_POOL_CONNECTIONS, from,
    connectionTimeout: SMTP_TIMEOUT_MS, greetingTimeout: SMTP_TIMEOUT_MS, socketTimeout: SMTP_TIMEOUT_MS,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  const health = sendHealth();
  return {
    async send(message) {
      await health.watch(() => transport.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
        messageId: message.messageId,
        ...(message.headers ? { headers: message.headers } : {}),
      }));
    },
    isFailing: () => health.isFailing(),
    close() {
      transport.close();
    },
  };
}
