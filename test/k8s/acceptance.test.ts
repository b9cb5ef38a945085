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
import { type K8sAcceptanceReport, writeK8sReport } from '../../demo/src/report/k8s-acceptance-report.js';
import { settleSeconds } from '../../demo/src/report/scaling-report.js';
import { verifyAgainstStream } from '../../demo/src/report/verify.js';
import { changesOf, differences, replayModel } from '../../demo/src/scaling/model-replay.js';
import { renderReport } from '../report-charts.js';
import { apiGet, helm, KUBECONFIG, kubectl, runLive } from './kube.js';
import { type Condition, type Obj, recordRun } from './run-recorder.js';

/**
 * The acceptance run on the real single-node Kubernetes (local-k8s/): the user's own commands (task deploy ENV=local-k8s,
 * task update-rate, task status), the real KEDA and HPA, then the same lag series through the local model.
 */

const NS = 'kvflow';
const RELEASE = 'kvflow';
const CONSUMER = `${RELEASE}-consumer`;
const HPA = `keda-hpa-${CONSUMER}`;
// prometheus-operator's StatefulSet for local-k8s/manifests/prometheus.yaml.
const PROMETHEUS_POD = 'prometheus-kube-prometheus-stack-prometheus-0';
const OUT = join(ROOT, 'test-results');
// The rate that builds a backlog: 1 producer replica, workers at ~250 events/s each (values-demo.yaml workMs 4).
const RATE = 1200;
const MIN_PEAK_REPLICAS = 3;
// The steady phase: a constant rate well inside what the workers apply (6 x ~250 events/s), held for 5 minutes
// after the count has settled.
const STEADY_RATE = 900;
const STEADY_S = 300;

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
    await runLive('task', ['deploy', 'ENV=local-k8s'], 30 * 60_000);
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
    const events = kubectl(
      '-n',
      NS,
      'get',
      'events',
      '--field-selector',
      `involvedObject.name=${RELEASE}-provision`,
    );
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
    // Queries of kvflow's own pods must return data; cluster exporters (KEDA, kube-state-metrics, the NATS exporter)
    // are not installed on this node, and kvflow_scaler_* is the local scaler's (npm run demo).
    const own = dashboardQueries().filter(
      (q) => !metricNames(q.expr).some((n) => n in CLUSTER_METRICS || n.startsWith('kvflow_scaler_')),
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
