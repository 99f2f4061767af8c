import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { DomainError, type ErrorKind, type FieldProblem } from '../engine/errors';
import type { Logger } from '../engine/logger';

/** An RFC 9457 problem document as Creditflow sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code?: string;
  errors?: FieldProblem[];
}

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 422,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  forbidden: 403,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

/**
 * Codes of kind `invalid` that are a malformed request rather than a broken
 * rule: a cursor the endpoint never returned is not something to correct in
 * the request's content, so it is 400 like malformed JSON.
 */
const BAD_REQUEST_CODES: ReadonlySet<string> = new Set(['cursor_invalid']);

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const PROBLEM_TYPE_BASE = 'https://creditflow.dev/problems/';

export function problem(status: number, code: string, detail: string, errors?: FieldProblem[]): Problem {
  return {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

/** Dotted paths ("tasks.1.inputTaskId") for every zod issue. */
export function zodProblems(error: ZodError, prefix = ''): FieldProblem[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(body)',
    message: issue.message,
  }));
}

interface BodyParserError { type?: string; status?: number; expose?: boolean; limit?: number }

/**
 * Errors of express and its body parser that are the client's fault: a path
 * whose percent-encoding does not decode (the router throws a URIError with
 * status 400), and a body that cannot be read as sent (a Content-Encoding
 * that does not decompress, a length that does not match).
 */
function bodyParserProblem(error: BodyParserError): Problem | undefined {
  if (error instanceof URIError && error.status === 400) return problem(400, 'malformed_url', 'The request URL has malformed percent-encoding (it does not decode as UTF-8).');
  switch (error.type) {
    case 'entity.parse.failed':
      return problem(400, 'malformed_json', 'The request body is not valid JSON.');
    case 'entity.too.large':
      return problem(413, 'body_too_large', `The request body is larger than the limit of ${error.limit} bytes.`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return problem(415, 'unsupported_encoding', 'The request body encoding is not supported.');
    default:
      // body-parser wraps read and decompression failures (e.g. a broken `br` body) as 400 without a type of ours.
      return error instanceof Error && error.status === 400 && error.expose === true ? problem(400, 'body_unreadable', 'The request body could not be read: its Content-Encoding does not decode, or it ended early.') : undefined;
  }
}

/** Converts anything thrown into a problem; unexpected errors become a bare 500. */
export function toProblem(error: unknown): Problem {
  if (error instanceof DomainError) {
    return problem(BAD_REQUEST_CODES.has(error.code) ? 400 : STATUS_BY_KIND[error.kind], error.code, error.message, [...error.errors]);
  }
  if (error instanceof ZodError) {
    return problem(422, 'validation_failed', 'The request does not match the schema.', zodProblems(error));
  }
  const fromParser = bodyParserProblem(error as BodyParserError);
  if (fromParser) return fromParser;
  return problem(500, 'internal_error', 'An unexpected error occurred; it has been logged.');
}

export function sendProblem(res: Parameters<RequestHandler>[1], body: Problem, headers: Record<string, string> = {}): void {
  res.status(body.status).set(headers).type('application/problem+json').send(JSON.stringify(body));
}

/** The one error middleware: every failure leaves as application/problem+json. */
export function problemMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const body = toProblem(error);
    if (body.status >= 500) logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) return;
    const retryAfter = error instanceof DomainError && error.kind === 'rate_limited' ? (error as DomainError & { retryAfterSeconds?: number }).retryAfterSeconds : undefined;
    // A body over the limit is not read to its end: the connection closes after the answer, so a sender of
    // oversized bodies costs the API no more than the bytes already received.
    const headers: Record<string, string> = {};
    if (body.status === 413) headers.Connection = 'close';
    if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
    sendProblem(res, body, headers);
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, problem(404, 'route_not_found', `No route for ${req.method} ${req.path}.`));
};
