// A tiny watchdog that outlives nobody: the dev stack (or the jest global
// setup) starts it with a pipe on stdin and writes "+<pid>" / "-<pid>" lines
// as it starts and stops children, each the leader of its own process group.
// When the pipe closes, its owner has exited, normally or killed outright
// (SIGKILL leaves no chance to clean up), so every group still listed is
// sent SIGTERM, then SIGKILL after a grace period. Plain JS so it starts fast.
'use strict';

const GRACE_MS = 5000;
const POLL_MS = 100;
const groups = new Set();
let pending = '';

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function reap() {
  for (const pid of groups) signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  const timer = setInterval(() => {
    for (const pid of groups) if (!signalGroup(pid, 0)) groups.delete(pid);
    if (groups.size > 0 && Date.now() < deadline) return;
    for (const pid of groups) signalGroup(pid, 'SIGKILL');
    clearInterval(timer);
    process.exit(0);
  }, POLL_MS);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop();
  for (const line of lines) {
    const pid = Number(line.slice(1));
    if (line.startsWith('+') && pid > 0) groups.add(pid);
    if (line.startsWith('-')) groups.delete(pid);
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
