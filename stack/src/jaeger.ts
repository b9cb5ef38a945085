import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './root.js';
import { freePort, isListening, outputTo, requireBinary, stopChild, untilReady } from './server-process.js';

/** A Jaeger all-in-one (v2, in memory): OTLP/HTTP in, the query API out (stack/jaeger/config.yaml). */
export interface JaegerProcess {
  /** The OTLP/HTTP base URL: what OTEL_EXPORTER_OTLP_ENDPOINT is set to. */
  otlpEndpoint: string;
  /** The query API and UI (`/api/traces/<id>`, `/api/services`). */
  queryUrl: string;
  stop(): Promise<void>;
}

export async function startJaeger(
  opts: { otlpPort?: number; queryPort?: number; logFile?: string } = {},
): Promise<JaegerProcess> {
  const bin = requireBinary('jaeger');
  const otlpPort = opts.otlpPort ?? (await freePort());
  const queryPort = opts.queryPort ?? (await freePort());
  const grpcPort = await freePort();
  const out = outputTo(opts.logFile);
  const child: ChildProcess = spawn(bin, [`--config=file:${join(ROOT, 'stack/jaeger/config.yaml')}`], {
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      JAEGER_OTLP_HTTP_PORT: String(otlpPort),
      JAEGER_QUERY_PORT: String(queryPort),
      JAEGER_QUERY_GRPC_PORT: String(grpcPort),
    },
  });
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  const ready = async () => (await isListening(otlpPort)) && (await fetch(`${queryUrl}/api/services`)).ok;
  await untilReady(child, 'jaeger', ready, 30_000, opts.logFile);
  return { otlpEndpoint: `http://127.0.0.1:${otlpPort}`, queryUrl, stop: () => stopChild(child) };
}
