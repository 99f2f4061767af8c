import { z } from 'zod';
import { DevstackError } from './devstack-error';

const PORT_MESSAGE = 'expected a port number from 1 to 65535';

function port(fallback: number) {
  return z
    .string()
    .default(String(fallback))
    .refine((value) => /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 65535, PORT_MESSAGE)
    .transform(Number);
}

function url(schemes: readonly string[], example: string) {
  const message = `expected a URL like ${example}`;
  return z.string().refine((value) => schemes.some((scheme) => value.startsWith(`${scheme}://`)) && URL.canParse(value.replace(/^mongodb(\+srv)?:/, 'http:')), message);
}

/**
 * Everything the dev stack reads from the environment. A service given by
 * env (MONGODB_URI, TEMPORAL_ADDRESS, SMTP_URL) is used instead of a local
 * one; the *_PORT values place the local services. The API and worker read
 * their own configuration; variables not listed here pass through to them.
 */
const devEnvSchema = z
  .object({
    PORT: port(8080),
    MONGODB_URI: url(['mongodb', 'mongodb+srv'], 'mongodb://127.0.0.1:27017/creditflow').optional(),
    TEMPORAL_ADDRESS: z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'expected host:port, like 127.0.0.1:7233').optional(),
    TEMPORAL_UI_URL: url(['http', 'https'], 'http://127.0.0.1:8233').optional(),
    SMTP_URL: url(['smtp', 'smtps'], 'smtp://127.0.0.1:1025').optional(),
    ADMIN_API_KEY: z.string().min(16, 'expected at least 16 characters').optional(),
    FERRETDB_PORT: port(27017),
    TEMPORAL_PORT: port(7233),
    TEMPORAL_UI_PORT: port(8233),
    SMTP_PORT: port(1025),
    MAILDEV_UI_PORT: port(1080),
    METRICS_PORT: port(9464),
  })
  .superRefine((env, context) => {
    const seen = new Map<number, string>();
    for (const name of ['PORT', 'FERRETDB_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'SMTP_PORT', 'MAILDEV_UI_PORT', 'METRICS_PORT'] as const) {
      const other = seen.get(env[name]);
      if (other) context.addIssue({ code: 'custom', path: [name], message: `port ${env[name]} is also used by ${other}` });
      seen.set(env[name], name);
    }
  });

/** The parsed, frozen dev stack configuration. */
export type DevEnv = Readonly<z.infer<typeof devEnvSchema>>;

/**
 * Parses the dev stack's variables once at start. An invalid value fails
 * with one line naming each bad variable and its value (`PORT=abc: expected
 * a port number ...`). Empty values count as unset, as in most shells' use.
 */
export function parseDevEnv(env: NodeJS.ProcessEnv): DevEnv {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = devEnvSchema.safeParse(present);
  if (parsed.success) return Object.freeze(parsed.data);
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const shown = name === 'ADMIN_API_KEY' ? '<hidden>' : (present[name] ?? '<default>');
    return `${name}=${shown}: ${issue.message}`;
  });
  throw new DevstackError('invalid_env', `invalid environment: ${problems.join('; ')}`);
}
