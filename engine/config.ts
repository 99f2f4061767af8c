import { paymentGatewaysSchema } from './payments/gateway';
import { webhookAllowedHostsSchema } from './webhooks';
import { jsonText, z } from './zod';

const port = z.coerce.number().int().min(1).max(65535);
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/**
 * Ledger policy defaults per unit as JSON, `*` for every other unit, e.g.
 * `{"*":{"minBalance":0},"CREDIT":{"minBalance":-500,"maxNegativeDays":30}}`.
 * Amounts (minBalance, maxBalance, minCredit) are in the unit's minor units;
 * a customer group's values win over these, and an account's own over both.
 */
const ledgerPolicyDefaults = jsonText()
  .pipe(z.record(
    z.string().regex(/^([A-Z]{3}|CREDIT|\*)$/, 'keys must be ISO 4217 codes, CREDIT or *'),
    z.strictObject({
      minBalance: z.number().int().min(-1e15).max(1e15).optional(),
      maxNegativeDays: z.number().int().min(0).max(3_650).nullable().optional(),
      maxBalance: z.number().int().min(-1e15).max(1e15).nullable().optional(),
      minCredit: z.number().int().min(1).max(1e12).nullable().optional(),
    }),
  ));

/**
 * Every environment variable Creditflow reads, with its default. Parsed once
 * at process start; the frozen result is passed down, never re-read.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(8080),
  /** The worker's Prometheus endpoint (`/metrics`), on HOST; 0 turns it off. The API serves /metrics on PORT. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  PUBLIC_URL: z.url().optional(),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters'),
  API_KEY_PEPPER: z.string().min(32, 'must be at least 32 characters').optional(),
  RATE_LIMIT_EVENTS_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** How long a cancellation is held for runs that start after it (engine/events/cancel-index.ts), in hours; 0 holds none. */
  CANCEL_HOLD_HOURS: z.coerce.number().min(0).max(8_760).default(24),
  RATE_LIMIT_SCRIPT_TESTS_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(30),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
  /** Events get a smaller body limit than admin requests: every byte of an event is parsed, validated and hashed on the API's one thread. */
  EVENT_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI').default('mongodb://127.0.0.1:27017/creditflow'),
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('creditflow'),
  TEMPORAL_TLS: flag.default(false),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_UI_URL: z.url().default('http://localhost:8233'),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').default('smtp://127.0.0.1:1025'),
  MAIL_FROM: z.string().min(3).default('Creditflow <no-reply@creditflow.local>'),
  DEFAULT_UNIT: z.string().regex(/^([A-Z]{3}|CREDIT)$/, 'must be an ISO 4217 code or CREDIT').default('USD'),
  LEDGER_POLICY_DEFAULTS: ledgerPolicyDefaults.default({}),
  SCRIPT_MAX_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(10_000),
  SCRIPT_MAX_MEMORY_MB: z.coerce.number().int().min(16).max(256).default(256),
  SCRIPT_SANDBOX_PROCESSES: z.coerce.number().int().min(1).max(16).default(2),
  SCRIPT_QUEUE_LIMIT: z.coerce.number().int().min(1).max(64).default(4),
  /** How long each end of a sandbox channel polls for the other during a burst of script runs, in microseconds; unset, the sandbox's default (100, or 0 on one core). */
  SCRIPT_SANDBOX_BURST_POLL_US: z.coerce.number().int().min(0).max(2_000).optional(),
  /** How often a worker looks for ledger entries whose `account.balance_changed` is not delivered yet, in ms; a worker also looks at once after its own postings. */
  BALANCE_EVENTS_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
  /** Hosts (`host` or `host:port`, comma-separated) webhook tasks may call although they resolve to loopback, private or link-local addresses. */
  WEBHOOK_ALLOWED_HOSTS: webhookAllowedHostsSchema.default([]),
  /** Payment gateways as JSON, `{ "<name>": { "url", "secret", "submit"? } }`: where payment_request tasks submit, signed with the secret, and (`submit`) each call's timeout and the retries before the request expires. A loopback or private URL's host must be in WEBHOOK_ALLOWED_HOSTS. */
  PAYMENT_GATEWAYS: paymentGatewaysSchema.default({}),
  /**
   * Whether a worker's workflow threads record where each of a run's promises was created, for Temporal's `__stack_trace`
   * query (the UI's "Stack Trace" tab). The worker's copy of the SDK reads this variable itself (patches/); off, runs cost
   * their workflow thread about half the CPU and the query fails with "Workflow stack traces are not enabled on this worker".
   */
  WORKFLOW_STACK_TRACES: flag.default(false),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Raised when the environment holds a value Creditflow cannot use. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: ReadonlyArray<{ variable: string; message: string }>) {
    super(`invalid configuration: ${problems.map((p) => `${p.variable} ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(env)'),
      message: issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message,
    })));
  }
  const config = parsed.data;
  if (Boolean(config.TEMPORAL_TLS_CERT_PATH) !== Boolean(config.TEMPORAL_TLS_KEY_PATH)) {
    throw new ConfigError([{ variable: 'TEMPORAL_TLS_CERT_PATH', message: 'and TEMPORAL_TLS_KEY_PATH must be set together' }]);
  }
  return Object.freeze(config);
}
