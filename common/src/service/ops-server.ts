import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Readiness } from './readiness.js';

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

export interface OpsReply {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The operations endpoints every kvflow process serves, whatever its HTTP server: `/metrics` (Prometheus),
 * `/healthz` (the process runs) and `/readyz` (every readiness condition holds, each reported by name).
 * Returns null for any other path.
 */
export async function opsReply(
  path: string,
  registry: Registry,
  readiness: Readiness,
): Promise<OpsReply | null> {
  if (path === '/metrics')
    return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
  if (path === '/healthz') return { status: 200, contentType: 'application/json', body: '{"status":"ok"}' };
  if (path === '/readyz') {
    const ready = readiness.ready;
    return {
      status: ready ? 200 : 503,
      contentType: 'application/json',
      body: JSON.stringify({ ready, checks: readiness.report() }),
    };
  }
  return null;
}

export const OPS_PATHS = ['/metrics', '/healthz', '/readyz'] as const;

/** Serves the operations endpoints for processes that have no HTTP framework of their own (the workers). */
export async function startOpsServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  readiness: Readiness;
}): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    opsReply(path, opts.registry, opts.readiness).then(
      (r) => {
        if (r) res.writeHead(r.status, { 'content-type': r.contentType }).end(r.body);
        else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
      },
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(`cannot listen on ${opts.host}:${opts.port} for /metrics: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(opts.port, opts.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
