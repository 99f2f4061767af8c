import fs from 'node:fs';
import { freePort, isPortFree } from './ports';

/** Where the chaos run places its listeners: below Linux's default ephemeral range (32768-60999). */
const STABLE_PORT_MIN = 20_000;
const STABLE_PORT_MAX = 32_000;
/** Ports tried before giving up; a busy machine has a few hundred listeners at most. */
const MAX_PORT_PROBES = 2_000;

/**
 * A free port outside the ephemeral range. A process that is killed and
 * restarted binds its port again; were it an ephemeral one, an outgoing
 * connection opened while the process was down (a driver's pool refilling)
 * could take it as its local port and keep it, and the restart would fail
 * with EADDRINUSE for as long as that connection lives.
 */
export async function stablePort(taken: Set<number>): Promise<number> {
  const [ephemeralMin] = ephemeralRange();
  const max = Math.min(STABLE_PORT_MAX, ephemeralMin - 1);
  // A machine whose ephemeral range starts this low leaves no room below it: take a free port, accepting the small risk above.
  if (max < STABLE_PORT_MIN) return freePort();
  for (let probe = 0; probe < MAX_PORT_PROBES; probe += 1) {
    const port = STABLE_PORT_MIN + Math.floor(Math.random() * (max - STABLE_PORT_MIN + 1));
    if (taken.has(port) || !(await isPortFree(port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error(`no free port between ${STABLE_PORT_MIN} and ${max} after ${MAX_PORT_PROBES} probes`);
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high) return [low, high];
  } catch {
    // Not Linux: assume the default range.
  }
  return [32_768, 60_999];
}
