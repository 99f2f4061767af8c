import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../engine/logger';
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
  rateLimits: RateLimits;
  readinessChecks: ReadinessCheck[];
  modules: RouteModule[];
  publicUrl?: string;
}

/**
 * Builds the express app: JSON bodies up to the limit, request logs, every
 * route from the modules, OpenAPI + Swagger UI, and one problem+json error
 * path. Holds no state of its own, so replicas scale horizontally.
 */
export function createApp(deps: AppDependencies): { app: Express; routes: RouteTable } {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(pinoHttp({ logger: deps.logger, autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' } }));
  // `verify` keeps the exact bytes for signature checks; parsing and the limit are unchanged.
  app.use(express.json({ limit: deps.bodyLimitBytes, strict: true, type: ['application/json', 'application/*+json'], verify: (req, _res, buf) => { (req as express.Request).rawBody = buf; } }));

  const routes = new RouteTable(deps.resolveKey, rateLimiters(deps.rateLimits));
  addHealthRoutes(routes, deps.readinessChecks);
  for (const addModule of deps.modules) addModule(routes);

  app.use(openApiRouter(routes, deps.publicUrl));
  app.use(routes.router);
  app.use(notFoundHandler);
  app.use(problemMiddleware(deps.logger));
  return { app, routes };
}
