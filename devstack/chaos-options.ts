import { parseArgs } from 'node:util';
import { z } from 'zod';
import { MAX_SEED, randomSeed } from './chaos-random';
import { DevstackError } from './devstack-error';

export const CHAOS_USAGE = [
  'usage: npm run chaos -- [--seed N] [--minutes M] [--purchases N] [--kills N] [--window S] [--keep-data]',
  '  --seed N        replay a run: the plan (purchases, cancellations, kill moments) follows from it (default: random, printed)',
  '  --minutes M     length of the load-and-kill phase, 0.5 to 60 (default 2); start-up and settling come on top',
  '  --purchases N   purchases sent during that phase, 1 to 5000 (default 200)',
  '  --kills N       kill -9 and restarts during that phase, 5 to 500 (default one per 12 s, at least 5: each kind once)',
  '  --window S      the top-up trigger\'s cancellation window in seconds, 5 to 300 (default 15)',
  '  --keep-data     keep the temporary data and logs even when every invariant holds',
].join('\n');

/** Seconds between kills when --kills is not given. */
const DEFAULT_SECONDS_PER_KILL = 12;
/** One kill of each kind (worker, API, FerretDB, Temporal, MailDev). */
export const MIN_KILLS = 5;

const optionsSchema = z.object({
  seed: z.coerce.number().int().min(0).max(MAX_SEED).optional(),
  minutes: z.coerce.number().min(0.5).max(60).default(2),
  purchases: z.coerce.number().int().min(1).max(5000).default(200),
  kills: z.coerce.number().int().min(MIN_KILLS).max(500).optional(),
  window: z.coerce.number().int().min(5).max(300).default(15),
  'keep-data': z.boolean().default(false),
});

/** What one chaos run does; every bound is in the option's name or unit. */
export interface ChaosOptions {
  readonly seed: number;
  readonly loadMs: number;
  readonly purchases: number;
  readonly kills: number;
  readonly windowSeconds: number;
  readonly keepData: boolean;
}

/** Parses `npm run chaos -- ...`; a bad value is a usage error naming the option. `--help` yields undefined. */
export function parseChaosOptions(args: readonly string[]): ChaosOptions | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        seed: { type: 'string' }, minutes: { type: 'string' }, purchases: { type: 'string' }, kills: { type: 'string' }, window: { type: 'string' },
        'keep-data': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new DevstackError('usage', `${(error as Error).message}\n${CHAOS_USAGE}`);
  }
  if (values.help) return undefined;
  const parsed = optionsSchema.safeParse(values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `--${String(issue.path[0])}=${String(values[String(issue.path[0])])}: ${issue.message}`);
    throw new DevstackError('usage', `${problems.join('; ')}\n${CHAOS_USAGE}`);
  }
  const options = parsed.data;
  const loadMs = Math.round(options.minutes * 60_000);
  return Object.freeze({
    seed: options.seed ?? randomSeed(),
    loadMs,
    purchases: options.purchases,
    kills: options.kills ?? Math.max(MIN_KILLS, Math.round(loadMs / 1000 / DEFAULT_SECONDS_PER_KILL)),
    windowSeconds: options.window,
    keepData: options['keep-data'],
  });
}
