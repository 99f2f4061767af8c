import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from '../api';
import type { CommandLine } from '../args';
import { CliError, EXIT, type CliIo } from '../io';
import { columnWidths, formatRow, formatTable } from '../table';
import { resolveTrigger } from '../trigger-ref';

interface RunSummary {
  workflowId: string;
  triggerId: string | null;
  eventId: string | null;
  status: string;
  startedAt: string | null;
  closedAt?: string;
  temporalUiUrl: string;
}

interface RunDetail extends RunSummary {
  phase?: string | null;
  tasks: Array<{ id: string; status: string }>;
}

/** A run as the command shows it: the summary, the trigger's key when it has one, and its tasks. */
export interface RunRow extends RunSummary {
  trigger: string;
  tasks: Array<{ id: string; status: string }> | null;
  phase: string | null;
}

const TASK_STATUS_ORDER = ['completed', 'skipped', 'failed', 'running', 'pending'];

/** `3 completed`, `waiting: 3 pending`, `2 completed, 1 failed`. */
export function tasksSummary(row: Pick<RunRow, 'tasks' | 'phase' | 'status'>): string {
  if (!row.tasks) return '?';
  const counts = new Map<string, number>();
  for (const task of row.tasks) counts.set(task.status, (counts.get(task.status) ?? 0) + 1);
  const ordered = [...counts.keys()].sort((a, b) => TASK_STATUS_ORDER.indexOf(a) - TASK_STATUS_ORDER.indexOf(b));
  const text = ordered.map((status) => `${counts.get(status)} ${status}`).join(', ') || 'no tasks';
  return row.status === 'running' && row.phase ? `${row.phase}: ${text}` : text;
}

function started(at: string | null): string {
  return at ? `${at.slice(0, 19).replace('T', ' ')}Z` : '-';
}

const HEADER = ['STATUS', 'WORKFLOW ID', 'TRIGGER', 'EVENT', 'STARTED (UTC)', 'TASKS'];

function cells(row: RunRow): string[] {
  return [row.status, row.workflowId, row.trigger, row.eventId ?? '-', started(row.startedAt), tasksSummary(row)];
}

/** Reads runs and their tasks, naming triggers by key where they have one (looked up once per trigger). */
class RunReader {
  private readonly triggerNames = new Map<string, Promise<string>>();

  constructor(
    private readonly api: ApiClient,
    private readonly query: string,
  ) {}

  async list(): Promise<RunSummary[]> {
    const response = await this.api.expect<{ items: RunSummary[] }>([200], 'listing runs', 'GET', `/v1/runs?${this.query}`);
    return response.body.items;
  }

  async row(summary: RunSummary): Promise<RunRow> {
    const [detail, trigger] = await Promise.all([
      this.api.call<RunDetail>('GET', `/v1/runs/${encodeURIComponent(summary.workflowId)}`),
      summary.triggerId ? this.triggerName(summary.triggerId) : Promise.resolve('-'),
    ]);
    const found = detail.status === 200 ? detail.body : undefined;
    return { ...summary, ...(found ? { status: found.status } : {}), trigger, tasks: found?.tasks ?? null, phase: found?.phase ?? null };
  }

  private triggerName(id: string): Promise<string> {
    let name = this.triggerNames.get(id);
    if (!name) {
      // A deleted trigger answers 404: its runs show the id.
      name = this.api.call<{ key?: string }>('GET', `/v1/triggers/${encodeURIComponent(id)}`).then((response) => (response.status === 200 && response.body.key) || id);
      this.triggerNames.set(id, name);
    }
    return name;
  }
}

function signature(row: RunRow): string {
  return `${row.status}|${tasksSummary(row)}`;
}

/**
 * `creditflow runs`: a table of runs, newest first. With `--follow` it keeps
 * polling and prints each new run and each change of status or tasks, oldest
 * first, until Ctrl-C (the io signal), then exits 0.
 */
export async function runsCommand(api: ApiClient, line: CommandLine, io: CliIo): Promise<number> {
  const trigger = line.trigger === undefined ? undefined : await resolveTrigger(api, line.trigger);
  const query = new URLSearchParams({ limit: String(line.limit), ...(trigger ? { triggerId: trigger.id } : {}), ...(line.status ? { status: line.status } : {}) });
  const reader = new RunReader(api, query.toString());
  const rows = await Promise.all((await reader.list()).map((summary) => reader.row(summary)));
  if (!line.follow) {
    if (line.json) io.stdout.write(`${JSON.stringify({ items: rows.map(present) }, null, 2)}\n`);
    else io.stdout.write(rows.length > 0 ? formatTable([HEADER, ...rows.map(cells)]) : 'No runs.\n');
    return EXIT.ok;
  }
  return follow(reader, rows, line, io);
}

function present(row: RunRow) {
  return { ...row, tasksSummary: tasksSummary(row) };
}

async function follow(reader: RunReader, initial: RunRow[], line: CommandLine, io: CliIo): Promise<number> {
  const seen = new Map<string, string>();
  const widths = columnWidths([HEADER, ...initial.map(cells)]);
  const print = (row: RunRow, change: 'listed' | 'new' | 'changed') => {
    if (line.json) io.stdout.write(`${JSON.stringify({ change, run: present(row) })}\n`);
    else io.stdout.write(`${formatRow(cells(row), widths)}\n`);
  };
  if (!line.json) io.stdout.write(`${formatRow(HEADER, widths)}\n`);
  for (const row of [...initial].reverse()) {
    seen.set(row.workflowId, signature(row));
    print(row, 'listed');
  }
  io.stderr.write(`Following runs every ${line.intervalMs / 1000} s; Ctrl-C stops.\n`);
  const signal = io.signal;
  while (!signal?.aborted) {
    try {
      await sleep(line.intervalMs, undefined, signal ? { signal } : {});
      for (const summary of (await reader.list()).reverse()) {
        const known = seen.get(summary.workflowId);
        if (known !== undefined && !known.startsWith('running|') && known.startsWith(`${summary.status}|`)) continue;
        const row = await reader.row(summary);
        const now = signature(row);
        if (now === known) continue;
        seen.set(row.workflowId, now);
        print(row, known === undefined ? 'new' : 'changed');
      }
    } catch (error) {
      if (signal?.aborted) break;
      if (!(error instanceof CliError)) throw error;
      // A restarting API should not end a follow: say so and poll again.
      io.stderr.write(`warning: ${error.message}; polling again\n`);
    }
  }
  return EXIT.ok;
}
