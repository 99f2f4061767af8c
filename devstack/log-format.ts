import { prettyFactory } from 'pino-pretty';

/** Fields every line carries or that the message already says; left out of the dev console. */
const HIDDEN_FIELDS = 'pid,hostname,name,sdk,req,res,responseTime';

interface RequestLog {
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  responseTime?: number;
}

/**
 * Turns the API's and the worker's JSON log lines into one readable line
 * each for `npm run dev` (`10:02:11 INFO: POST /v1/events 202 (8 ms)`).
 * Only the dev console formats: the processes themselves keep writing JSON,
 * as production wants. Lines that are not pino JSON pass through unchanged.
 */
export function devLogFormatter(colorize: boolean): (line: string) => string {
  const pretty = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: HIDDEN_FIELDS,
    messageFormat: (log, messageKey) => {
      const { req, res, responseTime } = log as RequestLog;
      const message = String(log[messageKey] ?? '');
      if (!req?.method) return message;
      return `${req.method} ${req.url ?? ''} ${res?.statusCode ?? ''}${responseTime !== undefined ? ` (${responseTime} ms)` : ''}`;
    },
  });
  return (line) => {
    if (!line.startsWith('{')) return line;
    try {
      return pretty(JSON.parse(line) as object).trimEnd();
    } catch {
      return line;
    }
  };
}
