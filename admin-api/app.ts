import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../engine/logger';
import type { Metrics } from '../engine/metrics';
import type { KeyResolver } from './auth';
import { addHealthRoutes, type ReadinessCheck } from './health';
import { openApiRouter } from './openapi';
import { notFoundHandler, problemMiddleware } from './problem';
import { rateLimiters, type RateLimits } from './rate-limit';
import { RouteTable } from './route-table';

/** Adds one feature's routes (accounts, events, triggers, ...) to the table. */
export type RouteModule = (routes: RouteTable) => void;

export interface AppDependencies {
  logger: Logger;
  resolveKey: KeyResolver;
  bodyLimitBytes: number;
  /** The body limit of POST /v1/events (EVENT_BODY_LIMIT_BYTES), applied before the general one. */
  eventBodyLimitBytes?: number;
  rateLimits: RateLimits;
  readinessChecks: ReadinessCheck[];
  modules: RouteModule[];
  publicUrl?: string;
  /** Served as Prometheus text on GET /metrics; event POSTs refused before ingestion are counted here. */
  metrics?: Metrics;
}

/** The path booking systems post events to; its refusals are counted as rejected events. */
const EVENTS_PATH = '/v1/events';

/**
 * Builds the express app: JSON bodies up to the limit, request logs, every
 * route from the modules, OpenAPI + Swagger UI, and one problem+json error
 * path. Holds no state of its own, so replicas scale horizontally.
 */
export function createApp(deps: AppDependencies): { app: Express; routes: RouteTable } {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(pinoHttp({
    logger: deps.logger,
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
    // Writes are worth a line each; successful reads (dashboards, pollers) only at debug.
    customLogLevel: (req, res, error) => {
      if (error || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return req.method === 'GET' || req.method === 'HEAD' ? 'debug' : 'info';
    },
  }));
  if (deps.metrics) addMetrics(app, deps.metrics);
  // `verify` keeps the exact bytes for signature checks; parsing and the limit are unchanged.
  const jsonBody = (limit: number) => express.json({ limit, strict: true, type: ['application/json', 'application/*+json'], verify: (req, _res, buf) => { (req as express.Request).rawBody = buf; } });
  // Events come from other systems in volume; their smaller limit is checked first (a parsed body is not parsed again).
  if (deps.eventBodyLimitBytes !== undefined) app.post(EVENTS_PATH, jsonBody(Math.min(deps.eventBodyLimitBytes, deps.bodyLimitBytes)));
  app.use(jsonBody(deps.bodyLimitBytes));

  const routes = new RouteTable(deps.resolveKey, rateLimiters(deps.rateLimits));
  addHealthRoutes(routes, deps.readinessChecks);
  for (const addModule of deps.modules) addModule(routes);

  app.use(openApiRouter(routes, deps.publicUrl));
  app.use(routes.router);
  app.use(notFoundHandler);
  app.use(problemMiddleware(deps.logger));
  return { app, routes };
}

/**
 * `GET /metrics` (no auth, like the health probes: scrape it from inside
 * your network) and the count of event POSTs refused before ingestion (bad
 * key, signature, body or rate limit); accepted ones are counted by the
 * ingestor, which knows their outcome.
 */
function addMetrics(app: Express, metrics: Metrics): void {
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(EVENTS_PATH, (req, res, next) => {
    if (req.method === 'POST' && req.path === '/') {
      res.on('finish', () => {
        if (res.statusCode < 400 || res.statusCode >= 500) return;
        const type = (req.body as { type?: unknown } | undefined)?.type;
        metrics.event(typeof type === 'string' && res.statusCode !== 400 && res.statusCode !== 413 ? type : '(unparsed)', res.statusCode === 429 ? 'rate_limited' : 'rejected');
      });
    }
    next();
  });
}
