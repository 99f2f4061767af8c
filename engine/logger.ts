import pino, { type Logger } from 'pino';
import type { Config } from './config';

/** Structured JSON logs on stdout; secrets in auth headers are redacted. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, name: string): Logger {
  return pino({
    name,
    level: config.LOG_LEVEL,
    redact: { paths: ['req.headers.authorization', 'req.headers["creditflow-signature"]'], censor: '[redacted]' },
  });
}

export type { Logger };
