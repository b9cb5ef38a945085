/**
 * `npm run bench` (`-- --quick` for a short run): kvflow measured beside its anchors on local servers, in one run,
 * rounds interleaved (the machine is shared and noisy: only figures from the same run are compared, and ratios
 * are medians of per-round ratios).
 *
 *   publish     the Publisher          vs  `nats bench js pub async --dedup` (same size, same server)
 *   generator   the rate generator asked for more than it can do  vs  the Publisher
 *   PUT         `PUT /keys/:key`, 64 connections  vs  the Publisher
 *   worker      the kvflow worker      vs  pull+ack with nothing else (the ceiling)
 *   e2e         1,000 events/s, event ts to applied (quiet machine: measured first)  vs  the same path bare (fetch,
 *               one fenced write, ack: what the machine, nats-server and Redis give it)
 *   GET         p99 at 1,000 req/s from 1,000 connections over 10,000 keys; the most one producer serves
 *   worker process: RSS at full load, start to /readyz 200
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import {
  connectionEnv,
  connectionSettings,
  connectNats,
  connectRedis,
  createLogger,
  loadSettings,
  parseEnv,
} from '@kvflow/common';
import { makeMemoryCgroup, ROOT, startNats, startRedis } from '@kvflow/stack';
import { generatorRate, getLoad, getOpenLoop, putRate, seedKeys, startProducer } from './http.js';
import { bareEndToEnd, endToEnd } from './latency.js';
import { EVENT_BYTES, kvflowPublish, natsBench } from './publish.js';
import { median, met, type Row, spread, svgChart, table } from './report.js';
import { benchSettings, chartWorkerMemoryLimit } from './settings.js';
import { withStream } from './streams.js';
import { tracingCost } from './tracing-cost.js';
import { ceiling, kvflowWorker, workerProcess } from './worker.js';

const settings = loadSettings(benchSettings, 'bench');
const log = createLogger('bench', 'warn');
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}

/** Runs kvflow's side and its anchor one after the other, kvflow's first or second; answers in that order. */
async function inOrder<K, A>(kvflowFirst: boolean, kvflow: () => Promise<K>, anchor: () => Promise<A>) {
  if (kvflowFirst) {
    const k = await kvflow();
    return [k, await anchor()] as const;
  }
  const a = await anchor();
  return [await kvflow(), a] as const;
}

interface Round {
  publish: number;
  natsBench: number;
  generator: number;
  put: number;
  ceiling: number;
  /** The two ways of pulling the ceiling is the faster of. */
  ceilingConsume: number;
  ceilingFetch: number;
  worker: number;
}

async function main(): Promise<void> {
  const [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  const connection = connectionSettings(
    parseEnv(connectionEnv, { NATS_URL: nats.url, REDIS_URL: redisServer.url }),
  );
  const nc = await connectNats(connection, log, 'bench');
  const redis = await connectRedis(connection, log, 'bench');
  const rounds: Round[] = [];
  try {
    say(
      `${settings.quick ? 'quick run' : 'full run'}: ${settings.rounds} rounds; events are ${EVENT_BYTES} bytes`,
    );
    // Latency first, on a quiet system: the throughput rounds leave large streams and a large heap behind.
    say(
      `end-to-end at 1,000 events/s for ${settings.e2eSeconds} s, kvflow then the bare path, after a 5 s run not counted`,
    );
    // A service is measured warm: the first run in a fresh process (JIT, a growing heap, new Redis keys) has a p99
    // of 2.4-2.9 ms here against 1.3-1.7 ms for every run after it.
    await endToEnd(nc, redis, settings.worker, log, 1_000, 5);
    const e2e = await endToEnd(nc, redis, settings.worker, log, 1_000, settings.e2eSeconds);
    const bare = await bareEndToEnd(nc, redis, settings.worker, 1_000, settings.e2eSeconds);

    // GET too is measured before the throughput rounds: its load comes from this process, and the heap they leave
    // behind makes its collector pause the client's timing (a p99 of 5 ms after them, 1 ms before).
    say('GET: p99 at 1,000 req/s from 1,000 connections; then as fast as one producer goes');
    await seedKeys(redis);
    const { getAt1000, getMax } = await withStream(nc, async (s) => {
      const producer = await startProducer(nats, redisServer, s);
      try {
        // Warm, as for the end-to-end figure: a fresh producer's first run has a p99 of about 3 ms here, the runs
        // after it under 1 ms.
        await getOpenLoop(producer, 3, 1_000, 1_000);
        const getAt1000 = await getOpenLoop(producer, settings.httpSeconds, 1_000, 1_000);
        if (getAt1000.errors > 0) throw new Error(`GET at 1,000 req/s: ${getAt1000.errors} requests failed`);
        return { getAt1000, getMax: await getLoad(producer, settings.httpSeconds, 64, 0) };
      } finally {
        await producer.stop();
      }
    });

    // The worker process runs as in its pod: inside the chart's memory limit, from which Node sizes its heap.
    const limit = chartWorkerMemoryLimit();
    const cgroup = makeMemoryCgroup('bench-worker', limit.bytes);
    const inPod = 'unavailable' in cgroup ? undefined : cgroup;
    const workerLimit =
      'unavailable' in cgroup
        ? `none (${cgroup.unavailable})`
        : `${limit.quantity} (cgroup v${cgroup.version})`;
    say(`worker process: start to ready, RSS at full load; memory limit: ${workerLimit}`);
    let proc: Awaited<ReturnType<typeof workerProcess>>;
    const readies: number[] = [];
    try {
      proc = await workerProcess(nc, nats, redisServer, settings.events, inPod);
      readies.push(proc.readyMs);
      for (let i = 0; i < 4; i++)
        readies.push((await workerProcess(nc, nats, redisServer, 1_000, inPod)).readyMs);
    } finally {
      inPod?.remove();
    }

    for (let r = 1; r <= settings.rounds; r++) {
      // Alternate which side goes first, so neither always runs on a warmer (or more cluttered) server.
      const kvflowFirst = r % 2 === 1;
      const [publish, anchor] = await inOrder(
        kvflowFirst,
        () => kvflowPublish(nc, settings.publishEvents),
        () => natsBench(nc, nats.url, settings.publishEvents),
      );
      const { generator, put } = await withStream(nc, async (s) => {
        const producer = await startProducer(nats, redisServer, s);
        try {
          const generator = await generatorRate(nc, producer, s, settings.publishEvents);
          return { generator, put: await putRate(producer, settings.httpSeconds) };
        } finally {
          await producer.stop();
        }
      });
      const [workerEps, top] = await inOrder(
        !kvflowFirst,
        () => kvflowWorker(nc, redis, settings.events, settings.worker, log),
        () => ceiling(nc, settings.events, settings.worker),
      );
      const round: Round = {
        publish,
        natsBench: anchor,
        generator,
        put,
        ceiling: top.eps,
        ceilingConsume: top.consume,
        ceilingFetch: top.fetch,
        worker: workerEps,
      };
      rounds.push(round);
      say(
        `round ${r}/${settings.rounds}: publish ${round.publish.toFixed(0)}/s, nats bench ${round.natsBench.toFixed(0)}/s, ` +
          `generator ${round.generator.toFixed(0)}/s, PUT ${round.put.toFixed(0)}/s, ` +
          `ceiling ${round.ceiling.toFixed(0)}/s (consume ${round.ceilingConsume.toFixed(0)}, fetch ${round.ceilingFetch.toFixed(0)}), worker ${round.worker.toFixed(0)}/s`,
      );
    }

    say(
      'tracing cost: publish and worker with tracing off, at ratio 0.01 and at 1.0 (spans to a real Jaeger)',
    );
    const traced = await tracingCost(
      nc,
      redis,
      {
        rounds: settings.rounds,
        publishEvents: settings.publishEvents,
        events: settings.events,
        worker: settings.worker,
        log,
      },
      say,
    );

    const per = (f: (r: Round) => number) => rounds.map(f);
    const ratio = (num: keyof Round, den: keyof Round) => per((r) => r[num] / r[den]);
    const m = (k: keyof Round) => median(per((r) => r[k]));
    const result = {
      publish_eps: Math.round(m('publish')),
      nats_bench_eps: Math.round(m('natsBench')),
      publish_to_nats_bench: Number(median(ratio('publish', 'natsBench')).toFixed(3)),
      generator_eps: Math.round(m('generator')),
      generator_to_publish: Number(median(ratio('generator', 'publish')).toFixed(3)),
      put_rps: Math.round(m('put')),
      put_to_publish: Number(median(ratio('put', 'publish')).toFixed(3)),
      worker_eps: Math.round(m('worker')),
      ceiling_eps: Math.round(m('ceiling')),
      worker_to_ceiling: Number(median(ratio('worker', 'ceiling')).toFixed(3)),
      e2e_p50_ms: Number(e2e.p50.toFixed(3)),
      e2e_p99_ms: Number(e2e.p99.toFixed(3)),
      e2e_samples: e2e.samples,
      e2e_bare_p50_ms: Number(bare.p50.toFixed(3)),
      e2e_bare_p99_ms: Number(bare.p99.toFixed(3)),
      get_p99_ms_at_1000rps: Number(getAt1000.p99.toFixed(2)),
      get_p50_ms_at_1000rps: Number(getAt1000.p50.toFixed(2)),
      get_rps_offered_1000: Math.round(getAt1000.rps),
      get_max_rps: Math.round(getMax.rps),
      get_p99_ms_at_max: getMax.p99,
      worker_rss_mb: Number(proc.rssMb.toFixed(1)),
      worker_memory_limit: workerLimit,
      worker_ready_ms: Math.round(median(readies)),
      worker_ready_ms_samples: readies.map(Math.round),
      spreads: {
        publish_to_nats_bench: spread(ratio('publish', 'natsBench')),
        generator_to_publish: spread(ratio('generator', 'publish')),
        put_to_publish: spread(ratio('put', 'publish')),
        worker_to_ceiling: spread(ratio('worker', 'ceiling')),
      },
      ...traced.result,
      rounds,
      tracing_rounds: traced.rounds,
      params: {
        quick: settings.quick,
        rounds: settings.rounds,
        events: settings.events,
        publish_events: settings.publishEvents,
        event_bytes: EVENT_BYTES,
        http_seconds: settings.httpSeconds,
        e2e_seconds: settings.e2eSeconds,
        batch_size: settings.worker.batchSize,
        apply_concurrency: settings.worker.applyConcurrency,
      },
      machine: {
        cpus: cpus().length,
        node: process.version,
        nats_server: version('nats-server', ['--version']),
        natscli: version('nats', ['--version']),
        redis_server: version('redis-server', ['--version']),
      },
      at: new Date().toISOString(),
    };
    const k = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
    const rows: Row[] = [
      {
        figure: 'publish / nats bench',
        kvflow: k(result.publish_eps),
        anchor: k(result.nats_bench_eps),
        value: result.publish_to_nats_bench,
        target: { op: '>=', limit: 0.8 },
        rounds: ratio('publish', 'natsBench'),
      },
      {
        figure: 'generator / publish',
        kvflow: k(result.generator_eps),
        anchor: k(result.publish_eps),
        value: result.generator_to_publish,
        target: { op: '>=', limit: 0.9 },
        rounds: ratio('generator', 'publish'),
      },
      {
        figure: 'PUT (64 conn) / publish',
        kvflow: k(result.put_rps),
        anchor: k(result.publish_eps),
        value: result.put_to_publish,
        target: { op: '>=', limit: 0.4 },
        rounds: ratio('put', 'publish'),
      },
      {
        figure: 'worker / pull+ack ceiling',
        kvflow: k(result.worker_eps),
        anchor: k(result.ceiling_eps),
        value: result.worker_to_ceiling,
        target: { op: '>=', limit: 0.9 },
        rounds: ratio('worker', 'ceiling'),
      },
      {
        figure: 'e2e p99 at 1,000/s (ms)',
        kvflow: `p50 ${result.e2e_p50_ms} ms`,
        anchor: `bare path: p99 ${result.e2e_bare_p99_ms} ms`,
        value: result.e2e_p99_ms,
        target: { op: '<=', limit: 2 },
      },
      {
        figure: 'GET p99 at 1,000 req/s (ms)',
        kvflow: `${k(result.get_rps_offered_1000)}, 1,000 conn`,
        anchor: 'seed 001: 16 ms',
        value: result.get_p99_ms_at_1000rps,
        target: { op: '<=', limit: 5 },
      },
      {
        figure: 'GET max req/s (64 conn)',
        kvflow: `p99 ${result.get_p99_ms_at_max} ms`,
        anchor: '',
        value: result.get_max_rps,
        target: null,
      },
      {
        figure: 'worker RSS at full load (MB)',
        kvflow: inPod ? `in its pod's ${limit.quantity}` : 'no memory limit',
        anchor: '',
        value: result.worker_rss_mb,
        target: { op: '<=', limit: 100 },
      },
      {
        figure: 'worker start to /readyz (ms)',
        kvflow: `samples ${result.worker_ready_ms_samples.join(', ')}`,
        anchor: '',
        value: result.worker_ready_ms,
        target: { op: '<=', limit: 300 },
      },
      ...traced.rows,
    ];
    console.log(
      `\nkvflow benchmark, ${result.at.slice(0, 10)}, ${result.machine.cpus} CPUs, Node ${process.version} ` +
        `(values: medians over ${settings.rounds} rounds; in brackets: the per-round range)\n`,
    );
    console.log(table(rows));
    const dir = resolve(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = resolve(dir, settings.quick ? 'quick.json' : 'latest.json');
    writeFileSync(
      file,
      `${JSON.stringify({ ...result, table: rows.map((r) => ({ ...r, met: met(r) })) }, null, 2)}\n`,
    );
    console.log(`\nwrote ${file}`);
    if (!settings.quick) {
      const svg = resolve(ROOT, 'docs/benchmark.svg');
      writeFileSync(
        svg,
        svgChart(rows, `kvflow benchmark ${result.at.slice(0, 10)} (${result.machine.cpus} CPUs)`),
      );
      console.log(`wrote ${svg}`);
    }
  } finally {
    await nc.close();
    redis.disconnect();
    await Promise.all([nats.stop(), redisServer.stop()]);
  }
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
