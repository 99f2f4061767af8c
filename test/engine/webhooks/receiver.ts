import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the receiver saw it, body byte for byte. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawBody: Buffer;
}

export type Handler = (request: ReceivedRequest, response: ServerResponse) => void;

/**
 * A real HTTP server on 127.0.0.1 standing in for a webhook receiver. Each
 * test sets `handler`; every request is recorded before the handler runs.
 */
export class Receiver {
  readonly received: ReceivedRequest[] = [];
  handler: Handler = (_request, response) => response.end();
  private readonly server = http.createServer((request, response) => this.onRequest(request, response));
  private readonly open = new Set<import('node:net').Socket>();

  async start(): Promise<void> {
    this.server.on('connection', (socket) => {
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The host:port entry that lets the sender reach this server. */
  get hostEntry(): string {
    return `127.0.0.1:${this.port}`;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, rawBody: Buffer.concat(chunks) };
      this.received.push(received);
      this.handler(received, response);
    });
  }
}
