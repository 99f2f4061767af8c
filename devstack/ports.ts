import net from 'node:net';
import { DevstackError } from './devstack-error';

/** A port a service is about to bind, with the name people know it by. */
export interface NamedPort {
  readonly port: number;
  readonly label: string;
}

/** All dev stack services bind the loopback interface only. */
export const LOOPBACK = '127.0.0.1';

/**
 * Resolves true when `port` can be bound on loopback right now. It binds and
 * releases the port, which is exactly what the service will do next, so a
 * listener on any address that conflicts is caught.
 */
export function isPortFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * Checks every port before anything starts, so a busy port is reported by
 * name (`port 7233 (Temporal) is in use`) instead of surfacing later as a
 * crashed or hung child.
 */
export async function assertPortsFree(ports: readonly NamedPort[]): Promise<void> {
  const busy: NamedPort[] = [];
  for (const named of ports) {
    if (!(await isPortFree(named.port))) busy.push(named);
  }
  if (busy.length === 0) return;
  const list = busy.map(({ port, label }) => `port ${port} (${label}) is in use`).join('; ');
  throw new DevstackError('port_in_use', `${list}: stop what is using it, or choose another port with the matching env variable`);
}

/** A port the OS reports free right now; tests use these so parallel runs do not collide. */
export function freePort(host = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves true when something accepts connections within `timeoutMs`: TCP on the port, or on the unix socket at that path. */
export function acceptsConnections(portOrPath: number | string, timeoutMs: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = typeof portOrPath === 'string' ? net.connect({ path: portOrPath }) : net.connect({ port: portOrPath, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
