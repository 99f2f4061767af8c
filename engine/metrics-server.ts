/**
 * The worker's `GET /metrics`: Creditflow's own series followed by the
 * Temporal SDK's worker metrics (task slots, poll and schedule latencies,
 * sticky cache, ...), which the SDK's Rust core serves on a loopback port of
 * its own. One scrape target per worker, whatever produced the series.
 */
import http from 'node:http';
import net from 'node:net';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** A scrape never waits longer than this for the SDK's exporter. */
const SDK_SCRAPE_TIMEOUT_MS = 2_000;

/** A free loopback port for the SDK's exporter, which needs an explicit address. */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  /** Where the SDK's Prometheus exporter answers, e.g. `http://127.0.0.1:41234/metrics`. */
  sdkMetricsUrl?: string;
  logger: Logger;
}

/** Starts the server; resolves once it listens, with a function that closes it. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    scrape(options).then(
      (text) => res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text),
      (error: unknown) => {
        options.logger.error({ err: error }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics scrape failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function scrape(options: MetricsServerOptions): Promise<string> {
  const own = await options.metrics.registry.metrics();
  if (!options.sdkMetricsUrl) return own;
  try {
    const response = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`answered ${response.status}`);
    return `${own}\n${await response.text()}`;
  } catch (error) {
    // Our own series still count; say in the scrape why the SDK's are missing.
    return `${own}\n# Temporal SDK metrics unavailable: ${(error as Error).message.replace(/\s+/g, ' ')}\n`;
  }
}
