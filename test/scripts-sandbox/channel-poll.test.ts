import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { pollChannel, socketFd } from '../../scripts-sandbox/channel-poll';
import { resolveOptions } from '../../scripts-sandbox/limits';

/** A Node process that writes `writes` to its fd 3 at the given delays (ms after start), then exits. */
function writerProcess(writes: Array<[delayMs: number, text: string]>): { child: ChildProcess; channel: Socket; fd: number } {
  const program = `const { writeSync } = require('node:fs');
const writes = ${JSON.stringify(writes)};
for (const [delayMs, text] of writes) setTimeout(() => writeSync(3, text), delayMs);
setTimeout(() => process.exit(0), Math.max(0, ...writes.map(([delayMs]) => delayMs)) + 50);`;
  const child = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  const channel = child.stdio[3] as Socket;
  const fd = socketFd(channel);
  if (fd === null) throw new Error('the pipe to the child has no fd');
  return { child, channel, fd };
}

/** Polls until something other than data ends a poll, collecting what was read. */
function drain(fd: number, budgetMs: number): { text: string; end: string } {
  const chunks: Buffer[] = [];
  let end: string;
  do end = pollChannel(fd, budgetMs, (chunk) => chunks.push(chunk));
  while (end === 'data');
  return { text: Buffer.concat(chunks).toString('utf8'), end };
}

describe('polling a sandbox channel', () => {
  it('reports idle when nothing arrives within the budget, hands over what the other process writes, and reports the end', async () => {
    const { child, fd } = writerProcess([[300, 'ping é'], [400, 'pong']]);
    // Nothing is written for 300 ms: a 2 ms poll comes back empty-handed.
    expect(pollChannel(fd, 2, () => { throw new Error('no chunk expected'); })).toBe('idle');
    const chunks: string[] = [];
    const deadline = Date.now() + 10_000;
    while (chunks.join('') !== 'ping épong' && Date.now() < deadline) {
      if (pollChannel(fd, 50, (chunk) => chunks.push(chunk.toString('utf8'))) === 'closed') break;
    }
    expect(chunks.join('')).toBe('ping épong');
    await once(child, 'exit');
    expect(pollChannel(fd, 50, () => undefined)).toBe('closed');
  });

  it('hands over each chunk as a copy that later reads do not overwrite', async () => {
    const { child, fd } = writerProcess([[50, 'a'.repeat(70_000)], [150, 'b'.repeat(10)]]);
    const chunks: Buffer[] = [];
    const deadline = Date.now() + 10_000;
    while (Buffer.concat(chunks).length < 70_010 && Date.now() < deadline) {
      if (pollChannel(fd, 50, (chunk) => chunks.push(chunk)) === 'closed') break;
    }
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text).toBe(`${'a'.repeat(70_000)}${'b'.repeat(10)}`);
    // More than one read's worth (64 KB) arrived, so the read buffer was reused in between.
    expect(chunks.length).toBeGreaterThan(1);
    await once(child, 'exit');
  });

  it('leaves the end of the channel to the socket\'s own events', async () => {
    const { channel, fd } = writerProcess([[20, 'x']]);
    // Polled without yielding to the event loop, so the socket reads nothing itself meanwhile.
    expect(drain(fd, 5_000)).toEqual({ text: 'x', end: 'closed' });
    // The end read by the poll is still reported to the socket.
    channel.resume();
    await once(channel, 'end');
  });

  it('finds no fd under a socket that has none', () => {
    expect(socketFd(new Socket())).toBeNull();
  });
});

describe('the burst poll option', () => {
  it('accepts 0 to 2,000 microseconds and names the option otherwise', () => {
    expect(resolveOptions({ burstPollUs: 0 }).burstPollUs).toBe(0);
    expect(resolveOptions({ burstPollUs: 2_000 }).burstPollUs).toBe(2_000);
    for (const value of [-1, 2_001, 1.5, Number.NaN]) {
      expect(() => resolveOptions({ burstPollUs: value })).toThrow(`sandbox option burstPollUs must be an integer from 0 to 2000, got ${String(value)}`);
    }
  });
});
