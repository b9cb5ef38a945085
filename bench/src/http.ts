import http from 'node:http';
import { applyFenced, type NatsConnection, type Redis, type StreamSettings } from '@kvflow/common';
import {
  freePort,
  httpReady,
  launchService,
  type NatsServer,
  type RedisServer,
  type ServiceProcess,
} from '@kvflow/stack';
import { jetstreamManager } from '@nats-io/jetstream';
import autocannon from 'autocannon';
import { benchServiceEnv } from './streams.js';

export interface Producer {
  port: number;
  service: ServiceProcess;
  stop(): Promise<void>;
}

/** The producer as deployed (`producer/dist/main.js`), writing into `s`. */
export async function startProducer(
  nats: NatsServer,
  redis: RedisServer,
  s: StreamSettings,
): Promise<Producer> {
  const port = await freePort();
  const service = launchService(
    'producer/dist/main.js',
    benchServiceEnv(nats, redis, s, {
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      BACKLOG_POLL_MS: '0',
    }),
    { captureOutput: true },
  );
  const deadline = Date.now() + 20_000;
  while (!(await httpReady(port))) {
    if (Date.now() > deadline || service.child.exitCode !== null)
      throw new Error(`producer did not become ready: ${service.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    service,
    stop: async () => {
      service.child.kill('SIGTERM');
      await service.exited;
    },
  };
}

async function lastSeq(nc: NatsConnection, s: StreamSettings): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(s.stream)).state.last_seq;
}

async function setRate(port: number, rate: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/rate?rate=${rate}`, { method: 'PUT' });
  if (!res.ok) throw new Error(`PUT /rate answered ${res.status}: ${await res.text()}`);
}

const settle = () => new Promise((r) => setTimeout(r, 500)); // in-flight publishes are acknowledged

/**
 * The rate generator asked for far more than it can do: events/s the stream actually stored, over `n` events, as
 * the Publisher is measured (from the first event to the n-th stored, on a fresh stream, the process warm): the
 * same amount of work on the same server, so the ratio is the generator's own cost.
 */
export async function generatorRate(nc: NatsConnection, p: Producer, s: StreamSettings, n: number) {
  await setRate(p.port, 1_000_000); // warm-up: the producer's first events run unoptimised code
  await new Promise((r) => setTimeout(r, 300));
  await setRate(p.port, 0);
  await settle();
  const from = await lastSeq(nc, s);
  const started = performance.now();
  await setRate(p.port, 1_000_000);
  let stored = 0;
  while (stored < n) {
    await new Promise((r) => setTimeout(r, 20));
    stored = (await lastSeq(nc, s)) - from;
  }
  const eps = stored / ((performance.now() - started) / 1000);
  await setRate(p.port, 0);
  await settle();
  return eps;
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** `PUT /keys/:key` with 100-byte values from 64 connections: requests/s answered 202. */
export async function putRate(p: Producer, seconds: number): Promise<number> {
  let i = 0;
  const result = await run({
    url: `http://127.0.0.1:${p.port}`,
    connections: 64,
    duration: seconds,
    method: 'PUT',
    headers: { 'content-type': 'text/plain' },
    body: 'v'.repeat(100),
    requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, path: `/keys/k${i++ % 10_000}` }) }],
  });
  if (result.non2xx > 0) throw new Error(`PUT benchmark: ${result.non2xx} answers were not 2xx`);
  return result.requests.average;
}

/** Writes 10,000 keys straight into Redis (the applied state the read side serves). */
export async function seedKeys(redis: Redis, n = 10_000): Promise<void> {
  for (let from = 0; from < n; from += 1000) {
    const writes = Array.from({ length: Math.min(1000, n - from) }, (_, j) => ({
      key: `g${from + j}`,
      op: 'set' as const,
      value: 'v'.repeat(100),
      seq: 1,
    }));
    await applyFenced(redis, writes, 60_000);
  }
}

/** `GET /keys/:key` over the seeded keys, at a fixed offered rate (or as fast as possible when `rate` is 0). */
export async function getLoad(p: Producer, seconds: number, connections: number, rate: number) {
  let i = 0;
  const result = await run({
    url: `http://127.0.0.1:${p.port}`,
    connections,
    duration: seconds,
    ...(rate > 0 ? { overallRate: rate } : {}),
    requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, path: `/keys/g${i++ % 10_000}` }) }],
  });
  if (result.non2xx > 0) throw new Error(`GET benchmark: ${result.non2xx} answers were not 2xx`);
  return { rps: result.requests.average, p99: result.latency.p99, p50: result.latency.p50 };
}

/**
 * An open-loop load at a fixed rate from many keep-alive connections, spread evenly in time: connection i sends
 * one request every `connections / rate` seconds, starting i / rate seconds in. (autocannon's fixed-rate mode
 * fires every connection on the same tick, so 1,000 connections at 1 req/s each arrive as one burst a second.)
 * Latency runs from sending to the end of the response; the first `warmupS` seconds are not counted.
 */
export async function getOpenLoop(
  p: Producer,
  seconds: number,
  connections: number,
  rate: number,
  warmupS = 2,
): Promise<{ rps: number; p99: number; p50: number; errors: number }> {
  const periodMs = (connections / rate) * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const started = performance.now();
  const measureFrom = started + warmupS * 1000;
  const endAt = measureFrom + seconds * 1000;
  const agents = Array.from(
    { length: connections },
    () => new http.Agent({ keepAlive: true, maxSockets: 1 }),
  );
  const timers: NodeJS.Timeout[] = [];
  const send = (agent: http.Agent) => {
    const t0 = performance.now();
    if (t0 >= endAt) return;
    if (t0 >= measureFrom) sent++;
    const req = http.get(
      { host: '127.0.0.1', port: p.port, path: `/keys/g${Math.floor(Math.random() * 10_000)}`, agent },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (t0 < measureFrom) return;
          if (res.statusCode === 200) latencies.push(performance.now() - t0);
          else errors++;
        });
      },
    );
    req.on('error', () => {
      if (t0 >= measureFrom) errors++;
    });
  };
  agents.forEach((agent, i) => {
    timers.push(
      setTimeout(
        () => {
          send(agent);
          timers.push(setInterval(() => send(agent), periodMs));
        },
        (i * periodMs) / connections,
      ),
    );
  });
  await new Promise((r) => setTimeout(r, endAt - started + 2_000));
  for (const t of timers) clearInterval(t);
  for (const a of agents) a.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { rps: sent / seconds, p50: at(0.5), p99: at(0.99), errors };
}
