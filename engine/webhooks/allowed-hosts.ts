import { isIPv6 } from 'node:net';
import { z } from '../zod';

// WEBHOOK_ALLOWED_HOSTS: the hosts a webhook may reach even though they
// resolve to a loopback, private or link-local address (an internal service,
// a local receiver in development). Matched against the host as written in
// the task's URL, never against what it resolves to.

/** One allowed host; without a port it allows every port of that host. */
export interface AllowedHost {
  /** Lower case, as WHATWG URL serialises it (IPv6 in brackets). */
  readonly hostname: string;
  readonly port?: number;
}

const ENTRY = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/;

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`; null when it is none of these. */
export function parseAllowedHost(entry: string): AllowedHost | null {
  const match = ENTRY.exec(entry.trim().toLowerCase());
  if (!match) return null;
  const [, host = '', portText] = match;
  if (host.startsWith('[') && !isIPv6(host.slice(1, -1))) return null;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65_535)) return null;
  let hostname: string;
  try {
    // The URL parser normalises the name the way a task's URL is normalised
    // (`[0:0::1]` is `[::1]`), so an entry matches however it is spelled.
    hostname = new URL(`http://${host}/`).hostname;
  } catch {
    return null;
  }
  return port === undefined ? { hostname } : { hostname, port };
}

function defaultPort(url: URL): number {
  return url.protocol === 'https:' ? 443 : 80;
}

/** Whether a parsed http(s) URL's host (and port, where the entry names one) is listed. */
export function isHostAllowed(url: URL, allowedHosts: readonly AllowedHost[]): boolean {
  const port = url.port === '' ? defaultPort(url) : Number(url.port);
  return allowedHosts.some((entry) => entry.hostname === url.hostname && (entry.port === undefined || entry.port === port));
}

/** Parses a list of entries, throwing on the first unusable one (a configuration mistake). */
export function parseAllowedHosts(entries: readonly string[]): AllowedHost[] {
  return entries.map((entry) => {
    const parsed = parseAllowedHost(entry);
    if (!parsed) throw new TypeError(`"${entry}" is not a host or host:port`);
    return parsed;
  });
}

/**
 * `WEBHOOK_ALLOWED_HOSTS` for the config schema: a comma-separated list of
 * `host` or `host:port`, trimmed and lower-cased; empty items are dropped.
 * Use as `webhookAllowedHostsSchema.default([])`.
 */
export const webhookAllowedHostsSchema = z
  .string()
  .transform((text) => text.split(',').map((item) => item.trim().toLowerCase()).filter((item) => item !== ''))
  .pipe(z.array(z.string().refine((item) => parseAllowedHost(item) !== null, { error: (issue) => `"${String(issue.input)}" is not a host or host:port` })).max(100));
