import net from 'node:net';
import { assertPortsFree, freePort, isPortFree } from '../../devstack/ports';

describe('assertPortsFree', () => {
  let server: net.Server;
  let busyPort: number;

  beforeEach(async () => {
    server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    busyPort = (server.address() as net.AddressInfo).port;
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('reports a busy port by its service name', async () => {
    await expect(assertPortsFree([{ port: busyPort, label: 'Temporal' }])).rejects.toMatchObject({
      code: 'port_in_use',
      message: expect.stringContaining(`port ${busyPort} (Temporal) is in use`),
    });
  });

  it('reports every busy port, not just the first', async () => {
    const free = await freePort();
    const second = net.createServer();
    await new Promise<void>((resolve) => second.listen(0, '127.0.0.1', resolve));
    const secondPort = (second.address() as net.AddressInfo).port;
    try {
      const check = assertPortsFree([{ port: busyPort, label: 'API' }, { port: free, label: 'FerretDB' }, { port: secondPort, label: 'MailDev UI' }]);
      await expect(check).rejects.toThrow(`port ${busyPort} (API) is in use; port ${secondPort} (MailDev UI) is in use`);
    } finally {
      await new Promise((resolve) => second.close(resolve));
    }
  });

  it('passes when every port is free', async () => {
    await expect(assertPortsFree([{ port: await freePort(), label: 'API' }])).resolves.toBeUndefined();
  });

  it('leaves a checked free port free', async () => {
    const port = await freePort();
    await assertPortsFree([{ port, label: 'API' }]);
    await expect(isPortFree(port)).resolves.toBe(true);
  });
});
