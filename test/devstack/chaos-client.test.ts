import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RetryingClient } from '../../devstack/chaos-client';
import { freePort } from '../../devstack/ports';

/** A replica that answers `statuses` in turn (the last one from then on) and records each request body. */
async function replica(statuses: number[]): Promise<{ url: string; bodies: string[]; close: () => Promise<void> }> {
  const bodies: string[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      bodies.push(body);
      const status = statuses.length > 1 ? statuses.shift()! : statuses[0]!;
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('RetryingClient', () => {
  it('retries a 5xx with the same body until it is answered', async () => {
    const api = await replica([503, 500, 202]);
    const client = new RetryingClient([api.url], 'key');
    try {
      const outcome = await client.request('POST', '/v1/events', { id: 'evt_1' }, 10_000);
      expect(outcome).toMatchObject({ answer: { status: 202 }, attempts: 3 });
      expect(new Set(api.bodies)).toEqual(new Set([JSON.stringify({ id: 'evt_1' })]));
      expect(Object.fromEntries(client.retries)).toEqual({ 503: 1, 500: 1 });
    } finally {
      client.close();
      await api.close();
    }
  });

  it('goes round-robin, so a replica that refuses connections costs one attempt', async () => {
    const api = await replica([202]);
    const client = new RetryingClient([`http://127.0.0.1:${await freePort()}`, api.url], 'key');
    try {
      const outcome = await client.request('POST', '/v1/events', { id: 'evt_2' }, 10_000);
      expect(outcome).toMatchObject({ answer: { status: 202 }, attempts: 2 });
      expect(Object.fromEntries(client.retries)).toEqual({ ECONNREFUSED: 1 });
    } finally {
      client.close();
      await api.close();
    }
  });

  it('does not retry an answer that is final, such as a 409', async () => {
    const api = await replica([409]);
    const client = new RetryingClient([api.url], 'key');
    try {
      expect(await client.request('POST', '/v1/events', { id: 'evt_3' }, 10_000)).toMatchObject({ answer: { status: 409 }, attempts: 1 });
    } finally {
      client.close();
      await api.close();
    }
  });

  it('gives up at its deadline with no answer, naming the last problem', async () => {
    const client = new RetryingClient([`http://127.0.0.1:${await freePort()}`], 'key');
    try {
      const outcome = await client.request('POST', '/v1/events', { id: 'evt_4' }, 300);
      expect(outcome.answer).toBeUndefined();
      expect(outcome.lastProblem).toBe('ECONNREFUSED');
      expect(outcome.attempts).toBeGreaterThan(1);
    } finally {
      client.close();
    }
  });
});
