#!/usr/bin/env node
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createKedaLagReader } from '@kvflow/autoscale';
import {
  connectionEnv,
  connectionSettings,
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  loadSettings,
  parseEnv,
  provision,
  Readiness,
  startOpsServer,
} from '@kvflow/common';
import {
  freePort,
  httpReady,
  isListening,
  lastError,
  launchService,
  type ServiceProcess,
  startJaeger,
  waitUntil,
} from '@kvflow/stack';
import { loadDemoSettings } from './demo-settings.js';
import { authHeader, localSettings } from './local-env.js';
import { type LocalStack, startClusterStack, startIsolatedStack, startLocalStack } from './local-stack.js';
import { renderLogLine, renderView } from './observe/live-view.js';
import { type Sample, StatsCollector } from './observe/stats-collector.js';
import { buildReport, summarize, writeReport } from './report/scaling-report.js';
import { SCENARIOS } from './report/scenarios.js';
import { type SingleWrite, writeAndReadBack } from './report/single-write.js';
import { verifyAgainstStream } from './report/verify.js';
import { measureWorkerCapacity } from './report/worker-capacity.js';
import { ArrivalRateReader } from './scaling/arrival-rate-reader.js';
import { LocalScaler, type ScalerDecision } from './scaling/local-scaler.js';
import { WorkerPool } from './scaling/worker-pool.js';

const HELP = `npm run demo -- [options]

Runs kvflow on one machine and scales worker processes the way KEDA + the HPA scale pods, using the autoscaling
settings of the Helm chart (charts/kvflow/values.yaml + values-demo.yaml).

Interactive (default): starts or reuses nats-server :4222 and redis-server :6379, the producer on :8080, the
local scaler (metrics on :9400) and a live view. Change the load with: npm run rate -- 800

Options:
  --scenario NAME    run a scripted load and exit: ${Object.keys(SCENARIOS).join(', ')} (isolated servers on free ports)
  --duration S       scenario length in seconds (default: ${Object.entries(SCENARIOS)
    .filter(([, s]) => s.durationS)
    .map(([name, s]) => `${name} ${s.durationS}`)
    .join(', ')}, others 120)
  --cluster          run on a 3-node NATS cluster (stream, consumer and dead letters at R3) and a Redis Cluster
                     (3 masters + 3 replicas), started on free loopback ports, instead of one server of each; the
                     services get the URLs, REDIS_CLUSTER=true and STREAM_REPLICAS=3, and the local scaler reads
                     the lag from the consumer leader's node, as KEDA does
  --tracing          start a local Jaeger (in memory) and trace the producer and the workers (OpenTelemetry,
                     the chart's tracing.sampleRatio); prints where to query the traces
  --report DIR       where the scenario writes scaling-report.{html,json} (default out)
  --measure-worker   measure what one worker applies per second with the values' consumer settings (a backlog,
                     one worker, five 10 s windows) and write worker-capacity.json to the report directory: the
                     figure autoscaling.arrivalRate.perWorkerRate is chosen from
  --rate R           initial rate in events/s, interactive mode (default 0)
  --values FILE      values file(s) to read instead of the defaults (repeat, later wins)
  -h, --help         this help

Exit codes: 0 ok, 1 the scenario found lost or duplicated events (or failed), 2 bad options.`;

function usage(message: string): never {
  process.stderr.write(`demo: ${message}\n\n${HELP}\n`);
  process.exit(2);
}

function parseOptions() {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof optionSpec }>>;
  const optionSpec = {
    scenario: { type: 'string' },
    duration: { type: 'string' },
    'measure-worker': { type: 'boolean', default: false },
    report: { type: 'string', default: 'out' },
    rate: { type: 'string', default: '0' },
    values: { type: 'string', multiple: true },
    cluster: { type: 'boolean', default: false },
    tracing: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
  try {
    parsed = parseArgs({ options: optionSpec, allowPositionals: false });
  } catch (err) {
    usage((err as Error).message);
  }
  const o = parsed.values;
  if (o.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const duration =
    o.duration === undefined ? (SCENARIOS[o.scenario ?? '']?.durationS ?? 120) : Number(o.duration);
  if (!Number.isFinite(duration) || duration < 10 || duration > 3600)
    usage('--duration must be 10..3600 seconds');
  if (o.scenario !== undefined && o['measure-worker'])
    usage('--scenario and --measure-worker do not go together');
  const rate = Number(o.rate);
  if (!Number.isFinite(rate) || rate < 0) usage('--rate must be a number >= 0');
  if (o.scenario !== undefined && !(o.scenario in SCENARIOS)) {
    usage(`unknown scenario "${o.scenario}"; choose one of ${Object.keys(SCENARIOS).join(', ')}`);
  }
  return {
    scenario: o.scenario,
    duration,
    reportDir: o.report,
    rate,
    values: o.values,
    cluster: o.cluster,
    tracing: o.tracing,
    measureWorker: o['measure-worker'],
  };
}

const say = (line: string) => process.stdout.write(`kvflow: ${line}\n`);

/** `--tracing`: a Jaeger for this run, and the OTEL_* settings that send the services' spans to it. */
async function startTracingBackend(logDir: string, ratio: number): Promise<Record<string, string>> {
  const jaeger = await startJaeger({ logFile: join(logDir, 'jaeger.log') });
  undo.push(() => jaeger.stop());
  say(
    `tracing: Jaeger at ${jaeger.queryUrl} (in memory; 1 new trace in ${Math.round(1 / Math.max(ratio, 1e-9))} ` +
      'recorded, and every write sent with a sampled traceparent). Traces: ' +
      `${jaeger.queryUrl}/api/traces?service=kvflow-producer&limit=20, one: ${jaeger.queryUrl}/api/v3/traces/<id> ` +
      "(the web UI's assets are not part of the Go build: the page there is a placeholder).",
  );
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(ratio),
  };
}

// What this run started, undone in reverse on the way out, whether it ends normally, fails or is interrupted: a
// failed start leaves no server or service of its own behind (servers it reused were never its own).
const undo: Array<() => Promise<unknown>> = [];
async function undoAll(): Promise<void> {
  for (const step of undo.splice(0).reverse()) await step().catch(() => undefined);
}

/** A taken port, named with what to do (the demo exits 1 with it, after undoing its start). */
const portInUse = (port: number | string, what: string, variable: string) =>
  new Error(`port ${port} (${what}) is in use: stop what listens there, or set ${variable}=<another port>`);

async function portFree(port: number, what: string, variable: string): Promise<void> {
  if (await isListening(port)) throw portInUse(port, what, variable);
}

async function setRate(
  port: number,
  query: Record<string, string | number>,
  headers: Record<string, string>,
): Promise<void> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  const res = await fetch(`http://127.0.0.1:${port}/rate?${qs}`, {
    method: 'PUT',
    headers,
  });
  if (!res.ok) throw new Error(`setting the rate failed: ${res.status} ${await res.text()}`);
}

async function main(): Promise<number> {
  const opts = parseOptions();
  let settings: ReturnType<typeof loadDemoSettings>;
  try {
    settings = loadDemoSettings(opts.values);
  } catch (err) {
    // A missing or invalid values file is a usage error, like a bad option.
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    return 2;
  }
  const a = settings.autoscaling;
  const local = loadSettings(localSettings, 'demo');
  const isolated = opts.scenario !== undefined || opts.measureWorker;
  if (!isolated) {
    await portFree(local.httpPort, "the producer's API", 'HTTP_PORT');
    await portFree(local.scalerPort, "the local scaler's metrics", 'SCALER_PORT');
  }
  let starting = true;
  const interrupted = () => {
    if (!starting) return;
    say('interrupted during start-up: stopping what was started');
    void undoAll().then(() => process.exit(130));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, interrupted);
  const stack: LocalStack = opts.cluster
    ? await startClusterStack(say)
    : isolated
      ? await startIsolatedStack(say)
      : await startLocalStack({ ...local.servers, say });
  undo.push(() => stack.stop());
  const stream = { ...local.stream, replicas: stack.streamReplicas ?? local.stream.replicas };
  const serversEnv = {
    NATS_URL: stack.natsUrl,
    REDIS_URL: stack.redisUrl,
    REDIS_CLUSTER: String(stack.redisCluster),
    STREAM_REPLICAS: String(stream.replicas),
  };
  const connection = connectionSettings(
    parseEnv(connectionEnv, { ...serversEnv, LOG_LEVEL: local.logLevel }),
  );
  const log = createLogger('demo', 'error');
  const nc = await connectNats(connection, log, 'kvflow-demo');
  undo.push(() => nc.close());
  await provision(nc, stream);

  const producerPort = isolated ? await freePort() : local.httpPort;
  const scalerPort = isolated ? await freePort() : local.scalerPort;
  const baseEnv = {
    ...serversEnv,
    PROVISION: 'false',
    LOG_LEVEL: local.logLevel,
    ...(opts.tracing ? await startTracingBackend(stack.logDir, settings.tracingSampleRatio) : {}),
  };
  const producer: ServiceProcess = launchService(
    'producer/dist/main.js',
    {
      ...process.env,
      ...baseEnv,
      HTTP_PORT: String(producerPort),
      HTTP_HOST: '127.0.0.1',
      RATE: String(opts.rate),
      BACKLOG_POLL_MS: '1000',
    },
    { logFile: join(stack.logDir, 'producer.log') },
  );
  undo.push(() => producer.stop(10_000));
  // Ready, or its own reason the moment it exits (a port taken since the check, a bad setting in the environment).
  const producerLog = join(stack.logDir, 'producer.log');
  await Promise.race([
    waitUntil('the producer to be ready', () => httpReady(producerPort), 20_000),
    producer.exited.then(({ code, signal }) => {
      const why = lastError(producerLog) ?? 'no message';
      const port = /EADDRINUSE[^\n]*:(\d+)/.exec(why)?.[1];
      if (port) throw portInUse(port, "the producer's API", 'HTTP_PORT');
      throw new Error(
        `the producer exited during start-up (${code ?? signal}): ${why} (log: ${producerLog})`,
      );
    }),
  ]);

  const tty = process.stdout.isTTY === true && !isolated;
  let lastDecision: string | null = null;
  const pool = new WorkerPool({
    env: { ...baseEnv, ...settings.workerEnv },
    logDir: stack.logDir,
    graceMs: settings.terminationGraceMs,
    onEvent: (e) => {
      if (!tty && (e.kind === 'crashed' || e.kind === 'killed'))
        say(`${e.worker} ${e.kind}: ${e.detail ?? ''}`);
    },
  });
  undo.push(() => pool.stopAll());
  const registry = createRegistry();
  const readiness = new Readiness([]);
  const ops = await startOpsServer({ host: '127.0.0.1', port: scalerPort, registry, readiness });
  undo.push(() => ops.close());
  // One cached scaler for the scaler loop and the live view, as KEDA's operator and metrics server share one.
  const readLag = createKedaLagReader(
    stack.natsMonitorUrl,
    { account: '$G', stream: stream.stream, consumer: stream.consumer },
    { locate: stack.natsLocate },
  );
  let consumerLeader = '';
  const lag = async () => {
    const r = await readLag();
    if (r.consumerLeader !== consumerLeader && r.consumerLeader !== '' && !tty)
      say(`lag read from the consumer leader ${r.consumerLeader} (${r.source})`);
    consumerLeader = r.consumerLeader;
    return r;
  };
  const onDecision = (d: ScalerDecision) => {
    lastDecision = `${d.by.toUpperCase()} ${d.from} -> ${d.replicas}: ${d.reason}`;
    if (!tty) say(`t=${d.at.toFixed(0)}s scale ${d.from} -> ${d.replicas} by ${d.by}: ${d.reason}`);
  };
  const arrivals = new ArrivalRateReader(
    producerPort,
    a.arrivalRate.windowSeconds,
    settings.scrapeIntervalSeconds,
    (): number => scaler.now(),
  );
  const scaler: LocalScaler = new LocalScaler(a, lag, pool, registry, {
    readRate: a.arrivalRate.enabled ? (): number => arrivals.read() : undefined,
    onDecision,
  });
  if (a.arrivalRate.enabled) arrivals.start();
  const collector = new StatsCollector({
    producerPort,
    pool,
    scaler,
    readLag: lag,
    stream,
    now: () => scaler.now(),
  });
  if (opts.measureWorker) {
    const capacity = await measureWorkerCapacity({
      pool,
      workerEnv: settings.workerEnv,
      setRate: (rate) => setRate(producerPort, { rate }, authHeader(local)),
      readLag: lag,
      say,
    }).finally(undoAll);
    mkdirSync(opts.reportDir, { recursive: true });
    const file = join(opts.reportDir, 'worker-capacity.json');
    writeFileSync(file, `${JSON.stringify(capacity, null, 2)}\n`);
    say(
      `one worker applies ${capacity.median_events_per_s} events/s (median; ${capacity.min_events_per_s}-` +
        `${capacity.max_events_per_s} over ${capacity.events_per_s.length} windows of ${capacity.windows_s} s); wrote ${file}`,
    );
    return 0;
  }
  scaler.start();
  starting = false;
  say(
    `producer http://127.0.0.1:${producerPort} (docs /docs) | scaler metrics http://127.0.0.1:${scalerPort}/metrics | ` +
      `settings from ${settings.files.map((f) => f.replace(`${process.cwd()}/`, '')).join(' + ')}`,
  );

  const samples: Sample[] = [];
  const title = isolated ? `kvflow demo: scenario ${opts.scenario}` : 'kvflow demo (Ctrl-C to stop)';
  const viewTimer = setInterval(() => {
    void collector.sample().then((s) => {
      samples.push(s);
      if (tty) {
        const lines = renderView(
          s,
          {
            title,
            lagThreshold: a.lagThreshold,
            activationLagThreshold: a.activationLagThreshold,
            arrivalRate: a.arrivalRate.enabled ? a.arrivalRate : null,
            maxReplicas: a.maxReplicaCount,
            lastDecision,
            error: scaler.lastError,
          },
          Math.min(process.stdout.columns ?? 80, 100),
        );
        process.stdout.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
      } else if (Math.round(s.t) % 5 === 0) {
        say(renderLogLine(s));
      }
    });
  }, 1000);

  let stopping = false;
  const shutdown = async () => {
    clearInterval(viewTimer);
    scaler.stop();
    arrivals.stop();
    say('stopping: draining workers…');
    await pool.stopAll();
    await undoAll();
  };

  if (!isolated) {
    await new Promise<void>((resolve) => {
      const onSignal = () => {
        if (!stopping) {
          stopping = true;
          resolve();
        }
      };
      // SIGHUP too: closing the terminal must still drain workers and stop the servers this run started.
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
    });
    await shutdown();
    say('stopped');
    return 0;
  }

  // Scenario mode: run the rate script, then verify and report.
  const scenario = SCENARIOS[opts.scenario as string] as (typeof SCENARIOS)[string];
  say(`scenario ${opts.scenario}: ${scenario.description}; ${opts.duration} s`);
  const stepTimers = scenario.steps.map((step) =>
    setTimeout(() => {
      say(`t=${scaler.now().toFixed(0)}s rate -> ${step.label}`);
      void setRate(producerPort, step.rate, authHeader(local)).catch((err: Error) => say(err.message));
    }, step.at * 1000),
  );
  const writes: Array<Promise<SingleWrite>> = [];
  const writeTimers = (scenario.writes ?? []).map((at, i) =>
    setTimeout(() => {
      const write = writeAndReadBack({
        producerPort,
        headers: authHeader(local),
        key: `single-write-${i + 1}`,
        at: scaler.now(),
        workersBefore: pool.current,
      });
      writes.push(write);
      void write.then(
        (w) =>
          say(`t=${w.at_s}s one write at ${w.workers_before} workers: ${w.status} after ${w.applied_ms} ms`),
        (err: Error) => say(err.message),
      );
    }, at * 1000),
  );
  process.on('SIGINT', () => {
    say('interrupted');
    for (const t of [...stepTimers, ...writeTimers]) clearTimeout(t);
    void shutdown().then(() => process.exit(130));
  });
  await sleep(opts.duration * 1000);
  await setRate(producerPort, { rate: 0 }, authHeader(local));
  // Everything still in the stream must be applied before the books are checked (bounded wait).
  const drainDeadline = Date.now() + 120_000;
  while (Date.now() < drainDeadline && ((await lag().catch(() => null))?.lag ?? 1) > 0) await sleep(500);
  clearInterval(viewTimer);
  scaler.stop();
  arrivals.stop();
  await pool.stopAll();
  await producer.stop(10_000);
  const finalLag = (await lag()).lag;
  const redis = await connectRedis(connection, log, 'kvflow-demo');
  const verification = await verifyAgainstStream(nc, redis, stream);
  redis.disconnect();
  const summary = summarize({
    samples,
    decisions: scaler.decisions,
    steps: scenario.steps,
    verification,
    worked: pool.exitedTotals,
    pendingAtEnd: finalLag,
    deadLetters: samples.at(-1)?.deadLetters ?? 0,
    autoscaling: a,
    durationS: opts.duration,
    singleWrites: await Promise.all(writes),
  });
  const report = buildReport({
    scenario: opts.scenario as string,
    description: scenario.description,
    durationS: opts.duration,
    autoscaling: a,
    samples,
    decisions: scaler.decisions,
    summary,
  });
  const files = writeReport(opts.reportDir, report);
  await undoAll();
  say(`summary ${JSON.stringify(summary)}`);
  say(`wrote ${files.html} and ${files.json}`);
  const ok = summary.lost === 0 && summary.duplicates_applied === 0 && summary.state_matches_model;
  if (!ok) say('FAILED: events were lost or applied twice (see the report)');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: Error) => {
    process.stderr.write(`demo: ${err.message}\n`);
    await undoAll();
    process.exit(1);
  },
);
