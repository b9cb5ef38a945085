import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { autoscalingFromValues } from '@kvflow/autoscale';
import { connectNats, connectRedis, createLogger, type NatsConnection, type Redis } from '@kvflow/common';
import { CLUSTER_METRICS } from '@kvflow/dashboards';
import { ROOT } from '@kvflow/stack';
import {
  connectionFor,
  consumerLag,
  dashboardQueries,
  metricNames,
  promQuery,
  settingsFor,
} from '@kvflow/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readValues } from '../../demo/src/demo-settings.js';
import {
  type Disruption,
  type K8sAcceptanceReport,
  writeK8sReport,
} from '../../demo/src/report/k8s-acceptance-report.js';
import { settleSeconds } from '../../demo/src/report/scaling-report.js';
import { verifyAgainstStream } from '../../demo/src/report/verify.js';
import { changesOf, differences, replayModel } from '../../demo/src/scaling/model-replay.js';
import { renderReport } from '../report-charts.js';
import { apiGet, helm, KUBECONFIG, kubectl, runLive } from './kube.js';
import { type Condition, type Obj, recordRun, watchTerminations } from './run-recorder.js';
import { startWriteLoad, summarize, type Write } from './write-load.js';

/**
 * The acceptance run on the real single-node Kubernetes (local-k8s/): the user's own commands (task deploy ENV=local-k8s,
 * task update-rate, task status), the real KEDA and HPA, then the same lag series through the local model.
 */

const NS = 'kvflow';
const RELEASE = 'kvflow';
const CONSUMER = `${RELEASE}-consumer`;
const HPA = `keda-hpa-${CONSUMER}`;
// The StatefulSet prometheus-operator makes for kube-prometheus-stack's Prometheus.
const PROMETHEUS_POD = 'prometheus-kube-prometheus-stack-prometheus-0';
const OUT = join(ROOT, 'test-results');
// The rate that builds a backlog: 1 producer replica, workers at ~250 events/s each (values-demo.yaml workMs 4).
const RATE = 1200;
const MIN_PEAK_REPLICAS = 3;
// The steady phase: a constant rate well inside what the workers apply (6 x ~250 events/s), held for 5 minutes
// after the count has settled.
const STEADY_RATE = 900;
const STEADY_S = 300;
// The disruptions (upgrade, rollback, NATS leader and Redis pod deleted): the rate on, KEDA scaling, and a write
// load through the API whose every 202 must end up in Redis.
const DISRUPTION_RATE = 600;
const LOAD_PER_S = 40;
// The credentials Secret the run seals with the real kubeseal (test-results/ is git-ignored).
const API_TOKEN = randomBytes(16).toString('hex');
const PLAIN_SECRET = join(ROOT, 'test-results', 'kvflow-credentials.plain.yaml');
const SEALED_SECRET = join(ROOT, 'test-results', 'kvflow-credentials.sealed.yaml');

const log = createLogger('k8s-acceptance', 'silent');
// The chart's values as the local-k8s environment layers them (helmfiles/values/local-k8s.yaml).
const values = readValues([
  join(ROOT, 'charts/kvflow/values.yaml'),
  join(ROOT, 'charts/kvflow/values-demo.yaml'),
  join(ROOT, 'helmfiles/values/kvflow-local-k8s.yaml'),
]);
const autoscaling = autoscalingFromValues(values, 'charts/kvflow values (local-k8s environment)');
const streamValues = values.stream as Record<string, string | number>;
const streamEnv = {
  STREAM_NAME: String(streamValues.name),
  STREAM_SUBJECT: String(streamValues.subject),
  CONSUMER_NAME: String(streamValues.consumer),
  DLQ_STREAM_NAME: String(streamValues.dlqName),
  DLQ_SUBJECT: String(streamValues.dlqSubject),
};

const clusterIp = (ns: string, svc: string) =>
  kubectl('-n', ns, 'get', 'svc', svc, '-o', 'jsonpath={.spec.clusterIP}').trim();

async function until<T>(what: string, timeoutS: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutS * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${timeoutS} s${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    await sleep(1000);
  }
}

describe('kvflow on a real single-node Kubernetes (task deploy, KEDA, HPA)', () => {
  let nc: NatsConnection;
  let redis: Redis;
  let producerUrl: string;
  const s = settingsFor(streamEnv);

  beforeAll(async () => {
    // Builds what is missing (cold: tens of minutes, with progress), starts the node, installs the add-ons.
    if (!existsSync(KUBECONFIG) || !kubectlOk())
      await runLive('bash', ['local-k8s/local-k8s.sh', 'up'], 60 * 60_000);
    // The credentials as a user makes them: secrets/seal.sh with the real kubeseal against the node's controller.
    mkdirSync(OUT, { recursive: true });
    writeFileSync(PLAIN_SECRET, secretYaml(API_TOKEN));
    await runLive('bash', ['secrets/seal.sh', PLAIN_SECRET, SEALED_SECRET], 120_000);
    await runLive('task', ['deploy', 'ENV=local-k8s', `SEALED_SECRET=${SEALED_SECRET}`], 30 * 60_000);
    producerUrl = `http://${clusterIp(NS, `${RELEASE}-producer`)}:8080`;
    const env = {
      NATS_URL: `nats://${clusterIp('nats', 'nats')}:4222`,
      REDIS_URL: `redis://${clusterIp('redis', 'valkey')}:6379`,
    };
    nc = await connectNats(connectionFor(env), log, 'k8s-acceptance');
    redis = await connectRedis(connectionFor(env), log, 'k8s-acceptance');
  }, 90 * 60_000);

  afterAll(async () => {
    await nc?.drain();
    redis?.disconnect();
  });

  it('task deploy installed the release: provisioning Job completed, ScaledObject READY, consumer at 0/0', async () => {
    expect(JSON.parse(helm('status', RELEASE, '-n', NS, '-o', 'json')).info.status).toBe('deployed');
    // The hook Job is deleted once it succeeded (hook-succeeded): its completion is in the events.
    const events = provisionEvents();
    expect(events).toMatch(/Completed/);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(s.stream)).config.num_replicas).toBe(Number(streamValues.replicas));
    await until('ScaledObject Ready=True', 120, async () => {
      const so = await apiGet<Obj<{ conditions?: Condition[] }>>(
        `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${CONSUMER}`,
      );
      return so.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? true : undefined;
    });
    const idle = await until('consumer at 0/0', 120, async () => {
      const d = await apiGet<Obj<{ replicas?: number }>>(
        `/apis/apps/v1/namespaces/${NS}/deployments/${CONSUMER}`,
      );
      return d.spec?.replicas === 0 && (d.status?.replicas ?? 0) === 0 ? d : undefined;
    });
    expect(idle.spec?.replicas).toBe(0);
    // The Secret came from the SealedSecret (the controller owns it), and the API holds its token.
    const secret = JSON.parse(kubectl('-n', NS, 'get', 'secret', 'kvflow-credentials', '-o', 'json')) as {
      metadata: { ownerReferences?: Array<{ kind: string }> };
    };
    expect(secret.metadata.ownerReferences?.map((o) => o.kind)).toEqual(['SealedSecret']);
    const put = (headers: Record<string, string>) =>
      fetch(`${producerUrl}/keys/sealed-secret-check`, { method: 'PUT', headers, body: 'v' });
    expect((await put({})).status).toBe(401);
    expect((await put({ authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await put({ authorization: `Bearer ${API_TOKEN}` })).status).toBe(202);
    expect(kubectl('-n', NS, 'get', 'hpa', HPA, '-o', 'jsonpath={.spec.maxReplicas}')).toBe(
      String(autoscaling.maxReplicaCount),
    );
    // Prometheus (prometheus-operator) has loaded the chart's PodMonitors before the run it is to watch.
    await until("Prometheus scraping the producer through the chart's PodMonitor", 180, async () => {
      const targets = (await (await fetch(`${promUrl()}/api/v1/targets?state=active`)).json()) as {
        data: { activeTargets: Array<{ scrapePool: string; health: string }> };
      };
      return targets.data.activeTargets.some(
        (t) => t.scrapePool === `podMonitor/${NS}/${RELEASE}-producer/0` && t.health === 'up',
      )
        ? true
        : undefined;
    });
  });

  it(
    `helm test ${RELEASE} passes: the chart's test Pod finds /readyz 200 and reads its write back through a worker`,
    async () => {
      // The chart's own check, as a user runs it (templates/tests/api-test.yaml): rejects unless helm exits 0.
      const out = await runLive('helm', ['test', RELEASE, '-n', NS, '--logs', '--timeout', '120s'], 180_000);
      expect(out).toMatch(new RegExp(`TEST SUITE:\\s+${RELEASE}-api-test`));
      expect(out).toMatch(/Phase:\s+Succeeded/);
      expect(out).toMatch(/ok {3}PUT \/keys\/helm-test-\S+: 202 seq \d+/);
      expect(out).toContain('PASS');
      // Its write woke a worker: the scaling run below starts from 0 again (KEDA's cooldown, then the pod's exit).
      await until('the consumer back at 0/0 after helm test', 120 + autoscaling.cooldownPeriod, async () => {
        const d = await apiGet<Obj<{ replicas?: number }>>(
          `/apis/apps/v1/namespaces/${NS}/deployments/${CONSUMER}`,
        );
        const pods = await apiGet<{ items: unknown[] }>(
          `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component%3Dconsumer`,
        );
        return d.spec?.replicas === 0 && pods.items.length === 0 ? true : undefined;
      });
    },
    (180 + 120 + autoscaling.cooldownPeriod) * 1000,
  );

  const record = () =>
    recordRun({ nc, stream: s, ns: NS, consumer: CONSUMER, hpa: HPA, producerUrl, promUrl: promUrl() });

  let report: K8sAcceptanceReport;
  /** Unix seconds at the peak, workers busy for 10 s: where the Prometheus checks look. */
  let busyAt: number | undefined;

  it(
    `task update-rate RATE=${RATE} scales the consumer 0 -> >= ${MIN_PEAK_REPLICAS} -> 0 after RATE=0, losing nothing`,
    async () => {
      let taskStatus = '';
      const run = record();
      const { samples, replicaChanges, terminated, now } = run;

      try {
        await sleep(3000);
        // From the user's command to the producer running the new target, and to measuring >= 90% of it.
        const rateSetAt = now();
        const update = runLive('task', ['update-rate', 'ENV=local-k8s', `RATE=${RATE}`], 60_000);
        let appliedAt: number | undefined;
        const followedAt = await until('the producer follows the new rate', 30, async () => {
          const r = (await (await fetch(`${producerUrl}/rate`)).json()) as {
            target_rate: number;
            actual_rate: number;
          };
          if (r.target_rate === RATE) appliedAt ??= now();
          return r.target_rate === RATE && r.actual_rate >= 0.9 * RATE ? now() : undefined;
        });
        await update;
        const rateAppliedS = Math.round(((appliedAt ?? followedAt) - rateSetAt) * 10) / 10;
        const rateFollowedS = Math.round((followedAt - rateSetAt) * 10) / 10;
        const peak = await until(`the HPA scales the consumer to >= ${MIN_PEAK_REPLICAS}`, 180, async () => {
          const ready = samples.at(-1)?.ready_replicas ?? 0;
          return ready >= MIN_PEAK_REPLICAS ? ready : undefined;
        });
        expect(peak).toBeGreaterThanOrEqual(MIN_PEAK_REPLICAS);
        await sleep(10_000);
        busyAt = Date.now() / 1000;
        await runLive('task', ['update-rate', 'ENV=local-k8s', 'RATE=0'], 60_000);
        taskStatus = await runLive('task', ['status', 'ENV=local-k8s'], 60_000);
        // Drain, then KEDA's cooldown, then the HPA's scale-down window and the pods' termination.
        const limit =
          120 + autoscaling.cooldownPeriod + autoscaling.behavior.scaleDown.stabilizationWindowSeconds;
        await until('the consumer back at 0 pods', limit, async () => {
          const last = samples.at(-1);
          const pods = await apiGet<{ items: unknown[] }>(
            `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component%3Dconsumer`,
          );
          return last?.spec_replicas === 0 && pods.items.length === 0 ? true : undefined;
        });
        await sleep(2000);
        await run.stop();

        const verification = await verifyAgainstStream(nc, redis, s);
        const jsm = await jetstreamManager(nc);
        const deadLetters = (await jsm.streams.info(s.dlqStream)).state.messages;
        const finalLag = await consumerLag(nc, s);
        const decisionsReal = changesOf(replicaChanges);
        const firstKeda = decisionsReal.find((c) => c.by === 'keda');
        const firstHpa = decisionsReal.find((c) => c.by === 'hpa');
        const replay = replayModel(
          autoscaling,
          samples.map((p) => ({ t: p.t, lag: p.lag, rate: p.arrival_rate })),
          {
            keda: phaseOf(firstKeda?.at_s, autoscaling.pollingInterval),
            hpa: phaseOf(firstHpa?.at_s, autoscaling.hpa.syncPeriodSeconds),
          },
        );
        const slack = Math.max(autoscaling.pollingInterval, autoscaling.hpa.syncPeriodSeconds) + 2;
        report = {
          kubernetes_version: (await apiGet<{ gitVersion: string }>('/version')).gitVersion,
          keda_version: kubectl(
            '-n',
            'keda',
            'get',
            'deploy',
            'keda-operator',
            '-o',
            'jsonpath={.spec.template.spec.containers[0].image}',
          ),
          autoscaling,
          rate: RATE,
          max_replicas: Math.max(...replicaChanges.map((p) => p.replicas)),
          reached_zero: replicaChanges.at(-1)?.replicas === 0,
          lost: verification.mismatchedKeys,
          state_matches_model: verification.mismatchedKeys === 0,
          events_stored: verification.published,
          dead_letters: deadLetters,
          redelivered: finalLag.redelivered,
          rate_applied_s: rateAppliedS,
          rate_followed_s: rateFollowedS,
          pods_terminated: [...terminated].map(([pod, t]) => ({ pod, ...t })),
          decisions_real: decisionsReal,
          decisions_model: replay.decisions,
          model_differences: differences(decisionsReal, replay.decisions, slack),
          series: samples.map((p, i) => ({ ...p, model_replicas: replay.replicas[i]?.replicas ?? 0 })),
        };
        mkdirSync(OUT, { recursive: true });
        writeK8sReport(OUT, report);
        console.info(
          `k8s acceptance: ${JSON.stringify({ ...report, series: `${report.series.length} samples`, autoscaling: undefined })}`,
        );
      } finally {
        await run.stop();
      }

      expect(report.max_replicas).toBeGreaterThanOrEqual(MIN_PEAK_REPLICAS);
      expect(report.reached_zero).toBe(true);
      expect(report.events_stored).toBeGreaterThan(RATE * 10);
      expect(report).toMatchObject({ lost: 0, state_matches_model: true, dead_letters: 0 });
      // The producer follows its ConfigMap without a restart: it runs the new target within about a second of the
      // command (which itself starts task and kubectl); its measured rate needs its 5 s window to fill.
      expect(report.rate_applied_s).toBeLessThan(3);
      expect(report.rate_followed_s).toBeLessThan(10);
      expect(taskStatus).toMatch(/lag of consumer \w+: "num_ack_pending":\d+ "num_pending":\d+/);
      expect(taskStatus).toContain('scaledobject.keda.sh/kvflow-consumer');
      // Every worker pod that stopped drained and exited on its own (SIGTERM -> exit 0), none was killed.
      expect(report.pods_terminated.length).toBeGreaterThanOrEqual(MIN_PEAK_REPLICAS);
      for (const p of report.pods_terminated) expect(p, p.pod).toMatchObject({ exitCode: 0 });
      // KEDA made the first and the last decision (0 -> 1, n -> 0), the HPA the ones between.
      expect(report.decisions_real[0]).toMatchObject({ by: 'keda', from: 0, to: 1 });
      expect(report.decisions_real.at(-1)).toMatchObject({ by: 'keda', to: 0 });
    },
    20 * 60_000,
  );

  it("Prometheus (prometheus-operator) scrapes the producer and every worker through the chart's PodMonitors; the dashboards' queries return data", async () => {
    expect(busyAt, 'the scaling run did not complete').toBeDefined();
    const at = busyAt as number;
    const prom = promUrl();
    const targets = (await (await fetch(`${prom}/api/v1/targets?state=active`)).json()) as {
      data: { activeTargets: Array<{ scrapePool: string; health: string }> };
    };
    // The producer is scraped now; the workers (gone by now) were scraped while they ran.
    const producer = targets.data.activeTargets.filter(
      (t) => t.scrapePool === `podMonitor/${NS}/${RELEASE}-producer/0`,
    );
    expect(producer.map((t) => t.health)).toEqual(['up']);
    const workersUp = await promQuery(prom, `count(up{namespace="${NS}", pod=~"${CONSUMER}-.*"} == 1)`, at);
    expect(
      Number((workersUp[0] as { value: [number, string] } | undefined)?.value[1] ?? 0),
    ).toBeGreaterThanOrEqual(MIN_PEAK_REPLICAS);
    // Queries of kvflow's own pods, KEDA's operator and kube-state-metrics (installed by their charts, scraped
    // through the charts' PodMonitor and ServiceMonitor) must return data; the NATS exporter is off on this node
    // (the Go module proxy refuses it), and kvflow_scaler_* is the local scaler's (npm run demo).
    const own = dashboardQueries().filter(
      (q) =>
        !metricNames(q.expr).some(
          (n) => CLUSTER_METRICS[n]?.startsWith('prometheus-nats-exporter') || n.startsWith('kvflow_scaler_'),
        ),
    );
    expect(own.length).toBeGreaterThan(5);
    const empty: string[] = [];
    for (const q of own)
      if ((await promQuery(prom, q.expr, at)).length === 0) empty.push(`${q.panel}: ${q.expr}`);
    expect(empty).toEqual([]);
  });

  it('writes test-results/k8s-acceptance.json and an HTML report that renders in headless Chromium', async () => {
    expect(report, 'the scaling run did not complete').toBeDefined();
    const { errors, charts } = await renderReport(
      join(OUT, 'k8s-acceptance.html'),
      join(OUT, 'k8s-acceptance.png'),
    );
    expect(errors).toEqual([]);
    expect(charts).toHaveLength(2);
    for (const c of charts) {
      expect(c.inked).toBeGreaterThan(1000);
      for (const [, points] of c.datasets) expect(points).toBe(report.series.length);
    }
    expect(charts[1]?.datasets.map(([label]) => label)).toEqual(
      expect.arrayContaining(['real (Deployment spec.replicas)', 'local model']),
    );
  });

  it(
    `holds a steady ${STEADY_RATE} events/s at one count for ${STEADY_S} s after settling (lag and arrival-rate triggers), the model agreeing`,
    async () => {
      const run = record();
      const settle = settleSeconds(autoscaling);
      let loadAt = 0;
      let loadEnd = 0;
      try {
        await sleep(3000);
        await runLive('task', ['update-rate', 'ENV=local-k8s', `RATE=${STEADY_RATE}`], 60_000);
        loadAt = run.now();
        await sleep((settle + STEADY_S) * 1000);
        loadEnd = run.now();
        await runLive('task', ['update-rate', 'ENV=local-k8s', 'RATE=0'], 60_000);
        const limit =
          120 +
          autoscaling.arrivalRate.windowSeconds +
          autoscaling.cooldownPeriod +
          autoscaling.behavior.scaleDown.stabilizationWindowSeconds;
        await until('the consumer back at 0 pods', limit, async () => {
          const pods = await apiGet<{ items: unknown[] }>(
            `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component%3Dconsumer`,
          );
          return run.samples.at(-1)?.spec_replicas === 0 && pods.items.length === 0 ? true : undefined;
        });
        await sleep(2000);
      } finally {
        await run.stop();
      }
      const { samples, replicaChanges } = run;
      const verification = await verifyAgainstStream(nc, redis, s);
      const decisionsReal = changesOf(replicaChanges);
      const replay = replayModel(
        autoscaling,
        samples.map((p) => ({ t: p.t, lag: p.lag, rate: p.arrival_rate })),
        {
          keda: phaseOf(decisionsReal.find((c) => c.by === 'keda')?.at_s, autoscaling.pollingInterval),
          hpa: phaseOf(decisionsReal.find((c) => c.by === 'hpa')?.at_s, autoscaling.hpa.syncPeriodSeconds),
        },
      );
      const settledFrom = loadAt + settle;
      // The model's count beside the real one at every HPA sync of the settled stretch.
      const syncs: Array<{ t: number; real: number | null; model: number }> = [];
      for (let t = settledFrom; t <= loadEnd; t += autoscaling.hpa.syncPeriodSeconds) {
        const i = samples.findLastIndex((p) => p.t <= t);
        syncs.push({ t, real: samples[i]?.spec_replicas ?? null, model: replay.replicas[i]?.replicas ?? 0 });
      }
      const agreeing = syncs.filter((x) => x.real === x.model).length;
      const loaded = samples.filter((p) => p.t >= settledFrom && p.t <= loadEnd);
      const ideal = Math.min(
        autoscaling.maxReplicaCount,
        Math.ceil(STEADY_RATE / autoscaling.arrivalRate.perWorkerRate),
      );
      const steady = {
        rate: STEADY_RATE,
        settle_s: settle,
        steady_s: Math.round(loadEnd - settledFrom),
        replica_changes_after_settling: replicaChanges.filter((c) => c.t > settledFrom && c.t <= loadEnd)
          .length,
        steady_replicas: loaded.at(-1)?.spec_replicas ?? null,
        ideal_replicas: ideal,
        pod_seconds_to_ideal:
          Math.round(
            (loaded.reduce((n, p) => n + (p.ready_replicas ?? 0), 0) / (loaded.length * ideal)) * 1000,
          ) / 1000,
        max_lag_after_settling: Math.max(0, ...loaded.map((p) => p.lag ?? 0)),
        arrival_rate_read: {
          min: Math.min(...loaded.map((p) => p.arrival_rate ?? 0)),
          max: Math.max(...loaded.map((p) => p.arrival_rate ?? 0)),
        },
        hpa_syncs: syncs.length,
        model_agreeing_syncs: agreeing,
        model_agreement: Math.round((agreeing / syncs.length) * 1000) / 1000,
        lost: verification.mismatchedKeys,
        pods_terminated: [...run.terminated].map(([pod, t]) => ({ pod, ...t })),
        decisions_real: decisionsReal,
        decisions_model: replay.decisions,
      };
      mkdirSync(OUT, { recursive: true });
      writeFileSync(
        join(OUT, 'k8s-steady.json'),
        `${JSON.stringify({ ...steady, series: samples }, null, 2)}\n`,
      );
      console.info(
        `k8s steady: ${JSON.stringify({ ...steady, pods_terminated: steady.pods_terminated.length })}`,
      );

      expect(steady.steady_s).toBeGreaterThanOrEqual(STEADY_S - 2);
      expect(steady.replica_changes_after_settling).toBeLessThanOrEqual(1);
      expect(steady.model_agreement).toBeGreaterThanOrEqual(0.95);
      expect(steady.lost).toBe(0);
      expect(verification.mismatchedKeys).toBe(0);
      for (const p of steady.pods_terminated) expect(p, p.pod).toMatchObject({ exitCode: 0 });
    },
    20 * 60_000,
  );

  /**
   * A disruption under load: the rate on and KEDA scaling, a write load through the API, then `act` (the
   * disruption) until `whole` answers; then the load stops, the rate goes to 0, the backlog drains, and every 202 is
   * looked up in Redis and Redis is compared with the stream's model.
   */
  async function disruption(
    name: 'upgrade' | 'rollback' | 'nats_leader_deleted' | 'redis_pod_deleted',
    act: () => Promise<unknown>,
    whole: () => Promise<unknown>,
  ): Promise<Disruption> {
    expect(report, 'the scaling run did not complete').toBeDefined();
    await runLive('task', ['update-rate', 'ENV=local-k8s', `RATE=${DISRUPTION_RATE}`], 60_000);
    await until('KEDA scaling the consumer to >= 2 ready workers', 180, async () => {
      const d = await apiGet<Obj<{ readyReplicas?: number }>>(
        `/apis/apps/v1/namespaces/${NS}/deployments/${CONSUMER}`,
      );
      return (d.status?.readyReplicas ?? 0) >= 2 ? true : undefined;
    });
    const terminated = new Map<string, { exitCode: number; reason: string }>();
    const stopWatch = watchTerminations(NS, 'app.kubernetes.io/component in (producer,consumer)', terminated);
    const load = startWriteLoad({
      url: producerUrl,
      token: API_TOKEN,
      prefix: name.replaceAll('_', '-'),
      perSecond: LOAD_PER_S,
      maxWrites: LOAD_PER_S * 900,
    });
    let recoveredS = 0;
    let writes: Write[] = [];
    try {
      await sleep(5000);
      const t0 = performance.now();
      await act();
      await whole();
      recoveredS = Math.round((performance.now() - t0) / 100) / 10;
      await sleep(10_000);
    } finally {
      writes = await load.stop();
    }
    await runLive('task', ['update-rate', 'ENV=local-k8s', 'RATE=0'], 60_000);
    await until('the backlog drained', 300, async () => {
      const lag = await consumerLag(nc, s);
      return lag.pending === 0 && lag.ackPending === 0 ? true : undefined;
    });
    await sleep(3000);
    stopWatch();
    const verification = await verifyAgainstStream(nc, redis, s);
    const podsTerminated = [...terminated].map(([pod, t]) => ({ pod, ...t }));
    const result: Disruption = {
      lost: verification.mismatchedKeys,
      ...(await summarize(writes, redis)),
      pods_terminated: podsTerminated,
      pods_exit_0: podsTerminated.every((p) => p.exitCode === 0),
      recovered_s: recoveredS,
    };
    report[name] = result;
    writeK8sReport(OUT, report);
    console.info(`k8s ${name}: ${JSON.stringify({ ...result, pods_terminated: podsTerminated.length })}`);
    expect(result).toMatchObject({
      lost: 0,
      false_202: 0,
      responses_503_without_retry_after: 0,
      pods_exit_0: true,
    });
    expect(result.accepted_202).toBeGreaterThan(LOAD_PER_S * 10);
    // The API may refuse writes while NATS moves its leader (503 + Retry-After); it answers every one.
    expect(result.other).toEqual({});
    expect(result.max_503_s).toBeLessThan(30);
    return result;
  }

  const deploymentsRolledOut = async () => {
    for (const d of [`${RELEASE}-producer`, CONSUMER])
      await runLive('kubectl', ['-n', NS, 'rollout', 'status', `deploy/${d}`, '--timeout=300s'], 320_000);
  };
  /** A field of the producer's container in its Deployment's pod template. */
  const producerContainer = (field: string) =>
    kubectl(
      '-n',
      NS,
      'get',
      'deploy',
      `${RELEASE}-producer`,
      '-o',
      `jsonpath={.spec.template.spec.containers[0].${field}}`,
    );
  const producerImage = () => producerContainer('image');

  it(
    'task deploy of a new image tag under load (rolling update, provisioning hook again) loses nothing; old pods exit 0',
    async () => {
      const before = producerImage();
      const tag = `${before.split(':').at(-1)}-upgrade`;
      const revisions = () =>
        (JSON.parse(helm('history', RELEASE, '-n', NS, '-o', 'json')) as unknown[]).length;
      const revisionsBefore = revisions();
      const r = await disruption(
        'upgrade',
        () =>
          runLive(
            'task',
            ['deploy', 'ENV=local-k8s', `TAG=${tag}`, `SEALED_SECRET=${SEALED_SECRET}`],
            20 * 60_000,
          ),
        deploymentsRolledOut,
      );
      expect(producerImage()).toBe(`${before.split(':').slice(0, -1).join(':')}:${tag}`);
      expect(revisions()).toBe(revisionsBefore + 1);
      // The provisioning Job ran for the new revision too (a hook, deleted once it succeeded).
      const completions = provisionEvents()
        .split('\n')
        .filter((l) => /Completed/.test(l)).length;
      expect(completions).toBeGreaterThanOrEqual(2);
      // Every worker and the producer were replaced, each old one drained and exited 0.
      expect(r.pods_terminated.some((p) => p.pod.startsWith(`${RELEASE}-producer-`))).toBe(true);
      expect(r.pods_terminated.some((p) => p.pod.startsWith(`${CONSUMER}-`))).toBe(true);
    },
    30 * 60_000,
  );

  it(
    'helm rollback under load returns to the previous image, losing nothing; old pods exit 0',
    async () => {
      const upgraded = producerImage();
      const r = await disruption(
        'rollback',
        () => runLive('helm', ['rollback', RELEASE, '-n', NS, '--wait', '--timeout', '300s'], 320_000),
        deploymentsRolledOut,
      );
      expect(producerImage()).not.toBe(upgraded);
      expect(r.pods_terminated.some((p) => p.pod.startsWith(`${RELEASE}-producer-`))).toBe(true);
    },
    20 * 60_000,
  );

  it(
    "the NATS stream leader's pod deleted under load: a new leader, nothing lost, no false 202",
    async () => {
      const jsm = await jetstreamManager(nc);
      let leader = '';
      let leaderUid = '';
      await disruption(
        'nats_leader_deleted',
        async () => {
          leader = (await jsm.streams.info(s.stream)).cluster?.leader ?? '';
          expect(leader).toMatch(/^nats-\d$/);
          leaderUid = kubectl('-n', 'nats', 'get', 'pod', leader, '-o', 'jsonpath={.metadata.uid}');
          kubectl('-n', 'nats', 'delete', 'pod', leader, '--wait=false');
        },
        async () => {
          await until('the deleted NATS pod back and the stream led and current', 300, async () => {
            // The StatefulSet makes a pod of the same name: the deleted one is back when its uid changed.
            const uid = kubectl('-n', 'nats', 'get', 'pod', leader, '-o', 'jsonpath={.metadata.uid}');
            if (uid === leaderUid) return undefined;
            const sts = await apiGet<Obj<{ readyReplicas?: number }>>(
              '/apis/apps/v1/namespaces/nats/statefulsets/nats',
            );
            const info = await jsm.streams.info(s.stream);
            const replicas = info.cluster?.replicas ?? [];
            return (sts.status?.readyReplicas ?? 0) === 3 &&
              info.cluster?.leader &&
              replicas.length === 2 &&
              replicas.every((p) => p.current)
              ? true
              : undefined;
          });
        },
      );
    },
    20 * 60_000,
  );

  it(
    'the Redis (Valkey) pod deleted under load: a new pod on the same volume, nothing lost, no false 202',
    async () => {
      const pod = () =>
        kubectl('-n', 'redis', 'get', 'pod', '-l', 'app.kubernetes.io/name=valkey', '-o', 'name').trim();
      const old = pod();
      await disruption(
        'redis_pod_deleted',
        () => Promise.resolve(kubectl('-n', 'redis', 'delete', old, '--wait=false')),
        async () => {
          await until('a new Valkey pod ready', 300, async () => {
            const now = pod();
            return now && now !== old && !now.includes('\n') ? true : undefined;
          });
          await runLive(
            'kubectl',
            ['-n', 'redis', 'rollout', 'status', 'deploy/valkey', '--timeout=300s'],
            320_000,
          );
          await until('Redis answering the run again', 120, async () =>
            (await redis.ping()) === 'PONG' ? true : undefined,
          );
        },
      );
    },
    20 * 60_000,
  );

  it('a re-sealed Secret with a new API token rolls the producer through Reloader: the old token is refused', async () => {
    const token = randomBytes(16).toString('hex');
    writeFileSync(PLAIN_SECRET, secretYaml(token));
    await runLive('bash', ['secrets/seal.sh', PLAIN_SECRET, SEALED_SECRET], 120_000);
    kubectl('-n', NS, 'apply', '-f', SEALED_SECRET);
    const status = async (t: string) =>
      (
        await fetch(`${producerUrl}/keys/reloader-check`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${t}` },
          body: 'v',
          signal: AbortSignal.timeout(5000),
        })
      ).status;
    // The controller unseals the new Secret, Reloader sees it change and rolls the Deployment that names it.
    await until('the producer holding the new token', 240, async () =>
      (await status(token)) === 202 && (await status(API_TOKEN)) === 401 ? true : undefined,
    );
    // Reloader's default strategy: an env var naming the Secret, with its hash, in the pod template.
    const env = producerContainer('env[*].name');
    expect(env.split(' ')).toContain('STAKATER_KVFLOW_CREDENTIALS_SECRET');
  });

  it('task teardown removes the release: no kvflow Deployment, ScaledObject, HPA or ConfigMap left', async () => {
    await runLive('task', ['teardown', 'ENV=local-k8s'], 5 * 60_000);
    expect(helm('list', '-n', NS, '-q').trim()).toBe('');
    const left = await until('kvflow objects gone', 120, async () => {
      const names = kubectl('-n', NS, 'get', 'deploy,scaledobject,hpa,configmap,role', '-o', 'name')
        .split('\n')
        .filter((n) => n && !n.endsWith('/kube-root-ca.crt'));
      return names.length === 0 ? names : undefined;
    });
    expect(left).toEqual([]);
  });
});

/** The events of the provisioning hook Job (deleted once it succeeded: its completions stay in the events). */
function provisionEvents(): string {
  return kubectl('-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${RELEASE}-provision`);
}

/** The node's Prometheus, by its pod IP (reachable from the host through the node's bridge). */
function promUrl(): string {
  const ip = kubectl(
    '-n',
    'monitoring',
    'get',
    'pod',
    PROMETHEUS_POD,
    '-o',
    'jsonpath={.status.podIP}',
  ).trim();
  return `http://${ip}:9090`;
}

/** kvflow's credentials Secret, as secrets/kvflow-credentials.example.yaml has a user write it, with an API token. */
function secretYaml(token: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata: { name: kvflow-credentials, namespace: ${NS} }\ntype: Opaque\nstringData:\n  API_TOKEN: ${token}\n`;
}

function kubectlOk(): boolean {
  try {
    kubectl('get', '--raw', '/readyz');
    return true;
  } catch {
    return false;
  }
}

/** The first instant a loop with this period ran, given one of its observed decisions (its phase). */
function phaseOf(observedAt: number | undefined, period: number): number {
  if (observedAt === undefined) return 0;
  return observedAt % period;
}
