import http from 'node:http';
import https from 'node:https';

/** A small client for the Creditflow API, used by the dev seeding, the demo and bench:e2e. */
export interface ApiClient {
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/**
 * Plain node:http with one keep-alive agent: bench:e2e drives hundreds of
 * requests per second from the machine it measures, and fetch costs several
 * times the CPU per request (web streams), which the stack under test would
 * otherwise lose.
 */
export function apiClient(baseUrl: string, adminKey: string): ApiClient {
  const base = new URL(baseUrl);
  const transport = base.protocol === 'https:' ? https : http;
  // An idle socket is dropped after 4 s, before Node's server closes it (keepAliveTimeout, 5 s): reusing
  // one the server is closing at that moment fails the request with ECONNRESET (seen in bench:e2e after
  // a baseline phase left the API idle).
  const agent = new transport.Agent({ keepAlive: true, timeout: 4_000 });
  return {
    call(method, path, body) {
      const payload = body !== undefined ? Buffer.from(JSON.stringify(body)) : undefined;
      const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${adminKey}`, ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) };
      return new Promise((resolve, reject) => {
        const request = transport.request(new URL(path, base), { method, headers, agent }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: response.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as never });
            } catch (error) {
              reject(new Error(`${method} ${path} answered ${response.statusCode ?? '?'} with a body that is not JSON: ${(error as Error).message}`));
            }
          });
        });
        request.on('error', reject);
        request.end(payload);
      });
    },
  };
}
