import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLag } from '@kvflow/autoscale';
import {
  connectNats,
  createLogger,
  createRegistry,
  type NatsConnection,
  provision,
  Readiness,
  startOpsServer,
} from '@kvflow/common';
import { CLUSTER_METRICS, compileDashboards } from '@kvflow/dashboards';
import {
  freePort,
  httpReady,
  type NatsServer,
  type RedisServer,
  ROOT,
  type ServiceProcess,
  startNats,
  startRedis,
  waitUntil,
} from '@kvflow/stack';
import {
  connectionFor,
  dashboardQueries,
  metricNames,
  promQuery,
  serviceEnv,
  settingsFor,
  spawnService,
} from '@kvflow/testkit';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemoSettings } from '../demo/src/demo-settings.js';
import { ArrivalRateReader } from '../demo/src/scaling/arrival-rate-reader.js';
import { LocalScaler } from '../demo/src/scaling/local-scaler.js';
import { WorkerPool } from '../demo/src/scaling/worker-pool.js';

/**
 * The dashboards, checked for real: the compiled JSON in git equals a fresh build; every query whose metrics exist
 * outside Kubernetes returns data from a real Prometheus scraping the running producer, workers and local scaler;
 * every query of cluster-only metrics names metrics those exporters publish.
 */

const DASHBOARD_DIR = join(ROOT, 'charts/kvflow/dashboards');
type Panel = { title?: string; type: string; targets?: Array<{ expr: string }> };
type Dashboard = { uid: string; title: string; panels: Panel[] };

const dashboards: Dashboard[] = readdirSync(DASHBOARD_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(DASHBOARD_DIR, f), 'utf8')) as Dashboard);
const queries = dashboardQueries();
const isClusterOnly = (expr: string) => metricNames(expr).some((n) => n in CLUSTER_METRICS);

describe('dashboards as code', () => {
  it('are built from dashboards/src: the JSON in the chart equals a fresh build (run npm run dashboards)', () => {
    const fresh = compileDashboards();
    expect(
      readdirSync(DASHBOARD_DIR)
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ).toEqual(Object.keys(fresh).sort());
    for (const [file, json] of Object.entries(fresh)) {
      expect(
        readFileSync(join(DASHBOARD_DIR, file), 'utf8'),
        `${file} is stale: run npm run dashboards`,
      ).toBe(json);
    }
  });

  it('have the overview and NATS JetStream dashboards, every panel with a query', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(['kvflow-nats-jetstream', 'kvflow-pipeline']);
    for (const d of dashboards) {
      for (const p of d.panels.filter((x) => x.type !== 'row'))
        expect(p.targets?.length, `${d.title} / ${p.title}`).toBeGreaterThan(0);
    }
  });

  it('query only metrics that exist: kvflow_* from our services, or names the cluster exporters publish', () => {
    for (const q of queries) {
      for (const name of metricNames(q.expr)) {
        const known = name.startsWith('kvflow_') || name in CLUSTER_METRICS;
        expect(known, `${q.dashboard} / ${q.panel}: unknown metric ${name}`).toBe(true);
      }
    }
    // NATS consumer numbers are only right on the leader: every query of them filters to it.
    for (const q of queries.filter((x) => x.expr.includes('nats_consumer_')))
      expect(q.expr).toContain('is_consumer_leader="true"');
    console.info(
      `cluster-only queries (checked by name): ${queries
        .filter((q) => isClusterOnly(q.expr))
        .map((q) => `${q.panel}: ${q.expr}`)
        .join(' | ')}`,
    );
  });
});

describe('dashboards against a real Prometheus scraping the running system', () => {
  let nats: NatsServer;
  let redis: RedisServer;
  let nc: NatsConnection;
  let producer: ServiceProcess;
  let pool: WorkerPool;
  let scaler: LocalScaler;
  let arrivals: ArrivalRateReader | undefined;
  let prometheus: ChildProcess;
  let promUrl: string;
  let closeOps: () => Promise<void>;
  let syncTargets: NodeJS.Timeout;

  beforeAll(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = serviceEnv(nats, redis, { PROVISION: 'false', LOG_LEVEL: 'warn' });
    const settings = settingsFor(env);
    nc = await connectNats(connectionFor(env), createLogger('dash-test', 'silent'), 'dash-test');
    await provision(nc, settings);

    const producerPort = await freePort();
    producer = spawnService('producer/dist/main.js', {
      ...env,
      HTTP_PORT: String(producerPort),
      HTTP_HOST: '127.0.0.1',
      RATE: '150',
      BACKLOG_POLL_MS: '1000',
    });
    await waitUntil('producer ready', () => httpReady(producerPort));

    const demo = loadDemoSettings();
    pool = new WorkerPool({
      env: { ...env, ...demo.workerEnv },
      logDir: mkdtempSync(join(tmpdir(), 'kvflow-dash-')),
      graceMs: demo.terminationGraceMs,
    });
    const registry = createRegistry();
    const scalerPort = await freePort();
    const ops = await startOpsServer({
      host: '127.0.0.1',
      port: scalerPort,
      registry,
      readiness: new Readiness([]),
    });
    closeOps = ops.close;
    // minReplicaCount 1: a stable worker set to scrape (scaling itself is tested elsewhere).
    const rate = new ArrivalRateReader(
      producerPort,
      demo.autoscaling.arrivalRate.windowSeconds,
      demo.scrapeIntervalSeconds,
      () => scaler.now(),
    );
    scaler = new LocalScaler(
      { ...demo.autoscaling, pollingInterval: 1, minReplicaCount: 1 },
      () => readLag(nats.monitorUrl, '$G', settings.stream, settings.consumer),
      pool,
      registry,
      { readRate: () => rate.read() },
    );
    arrivals = rate.start();
    scaler.start();

    // A poison event, so the dead-letter series has something to show.
    await jetstream(nc).publish(settings.subject, 'not json');

    const dir = mkdtempSync(join(tmpdir(), 'kvflow-prom-'));
    const workersFile = join(dir, 'workers.json');
    const writeTargets = () =>
      writeFileSync(
        workersFile,
        JSON.stringify([
          {
            targets: pool.snapshot().map((w) => `127.0.0.1:${w.metricsPort}`),
            labels: { job: 'kvflow-consumer' },
          },
        ]),
      );
    writeTargets();
    syncTargets = setInterval(writeTargets, 500);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        `  - { job_name: kvflow-producer, static_configs: [ { targets: ["127.0.0.1:${producerPort}"] } ] }`,
        `  - { job_name: kvflow-scaler, static_configs: [ { targets: ["127.0.0.1:${scalerPort}"] } ] }`,
        `  - { job_name: kvflow-consumer, file_sd_configs: [ { files: ["${workersFile}"], refresh_interval: 1s } ] }`,
      ].join('\n'),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    prometheus = spawn(
      process.env.PROMETHEUS_BIN ?? 'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    await waitUntil(
      'prometheus ready',
      async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok === true,
    );
    // Let scrapes accumulate while workers scale up and apply events.
    await waitUntil('workers scaled up and applying', () => pool.current > 0, 30_000);
    await new Promise((r) => setTimeout(r, 20_000));
  }, 120_000);

  afterAll(async () => {
    clearInterval(syncTargets);
    scaler?.stop();
    arrivals?.stop();
    prometheus?.kill('SIGTERM');
    await pool?.stopAll();
    producer?.child.kill('SIGTERM');
    await closeOps?.();
    await nc?.close();
    await Promise.all([nats?.stop(), redis?.stop()]);
  }, 60_000);

  it('every query of metrics that exist outside Kubernetes returns data', async () => {
    const local = queries.filter((q) => !isClusterOnly(q.expr));
    expect(local.length).toBeGreaterThan(10);
    const empty: string[] = [];
    for (const q of local) {
      if ((await promQuery(promUrl, q.expr)).length === 0)
        empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
    }
    expect(empty).toEqual([]);
  });
});
