// CPU time of this process and of every process it started (the services,
// the sandbox children), read from /proc: what one phase of a benchmark cost
// each of them. Linux only; elsewhere it reads nothing.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

interface ProcStat { pid: number; ppid: number; name: string; cpuMs: number }

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = text.lastIndexOf(')');
    const name = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    return { pid, ppid: Number(fields[1]), name, cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S };
  } catch {
    return undefined; // the process ended, or this is not Linux
  }
}

/** A process's name, with the script a node process runs (MailDev and the sandbox children are both `node`). */
function labelOf(stat: ProcStat): string {
  if (stat.name !== 'node' && stat.name !== 'MainThread') return stat.name; // Node names its main thread, and so its process, MainThread
  try {
    const args = readFileSync(`/proc/${stat.pid}/cmdline`, 'utf8').split('\0').slice(1);
    const script = args.find((arg) => !arg.startsWith('-') && /[/.]/.test(arg));
    return script ? `node ${script.split('/').slice(-2).join('/')}` : 'node';
  } catch {
    return 'node';
  }
}

/** CPU milliseconds so far of this process and its descendants, summed by process name. */
export function cpuByProcess(root = process.pid): Map<string, number> {
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number);
  } catch {
    return new Map();
  }
  const stats = pids.map(readStat).filter((stat): stat is ProcStat => stat !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const totals = new Map<string, number>();
  const visit = (stat: ProcStat, label: string): void => {
    totals.set(label, (totals.get(label) ?? 0) + stat.cpuMs);
    for (const child of children.get(stat.pid) ?? []) visit(child, labelOf(child));
  };
  const self = stats.find((stat) => stat.pid === root);
  if (self) visit(self, 'this process');
  return totals;
}

/** What each process spent between two readings, per unit of work (e.g. per run). */
export function cpuSpent(before: Map<string, number>, after: Map<string, number>, per: number): Array<{ name: string; msPer: number }> {
  return [...after].map(([name, ms]) => ({ name, msPer: (ms - (before.get(name) ?? 0)) / per })).filter((row) => row.msPer > 0).sort((a, b) => b.msPer - a.msPer);
}

/** CPU milliseconds so far of each thread of this process, summed by thread name. */
export function cpuByThread(): Map<string, number> {
  const totals = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return totals;
  }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
      const close = text.lastIndexOf(')');
      const name = text.slice(text.indexOf('(') + 1, close).replace(/\d+$/, '#');
      const fields = text.slice(close + 2).split(' ');
      totals.set(name, (totals.get(name) ?? 0) + ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S);
    } catch {
      // the thread ended
    }
  }
  return totals;
}
