import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { RouteTable } from './route-table';

/** The OpenAPI 3.1 document for every route in the table. */
export function buildOpenApiDocument(routes: RouteTable, serverUrl?: string) {
  const generator = new OpenApiGeneratorV31(routes.registry.definitions);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Creditflow API',
      version: '1.0.0',
      description: 'Events in, durable trigger runs out: account credits, debits and emails. Errors are application/problem+json (RFC 9457).',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
  });
}

/**
 * Serves `/openapi.json` and Swagger UI at `/docs`. The document is built on
 * first request, after every route has been added.
 */
export function openApiRouter(routes: RouteTable, serverUrl?: string): Router {
  let document: ReturnType<typeof buildOpenApiDocument> | undefined;
  const getDocument = () => (document ??= buildOpenApiDocument(routes, serverUrl));
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(getDocument());
  });
  router.use('/docs', swaggerUi.serve);
  router.get('/docs', (req, res, next) => swaggerUi.setup(getDocument(), { customSiteTitle: 'Creditflow API' })(req, res, next));
  return router;
}
