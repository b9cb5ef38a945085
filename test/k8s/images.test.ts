import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, ROOT } from '@kvflow/stack';
import { settingsFor, streamNames } from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runLive } from './kube.js';
import {
  imageSize,
  kill,
  logs,
  podmanMissing,
  removeContainers,
  runDetached,
  runOnce,
  state,
  waitExit,
} from './podman.js';

/**
 * The two images exactly as scripts/build-images.sh builds them, run with podman the way the chart runs them (uid
 * 1000, read-only root, /tmp a tmpfs, no capabilities, no new privileges) against real nats-server and redis-server:
 * the provisioning Job's command, a worker and the producer serve, a write goes through both, SIGTERM exits 0 within
 * the chart's terminationGracePeriodSeconds.
 */

const REPOSITORY = 'localhost/kvflow';
const TAG = 'test';
const COMPONENTS = ['producer', 'consumer'] as const;
type Component = (typeof COMPONENTS)[number];
const IMAGE: Record<Component, string> = {
  producer: `${REPOSITORY}/kvflow-producer:${TAG}`,
  consumer: `${REPOSITORY}/kvflow-consumer:${TAG}`,
};
const NAME = {
  producer: `kvflow-test-producer-${process.pid}`,
  consumer: `kvflow-test-consumer-${process.pid}`,
  provision: `kvflow-test-provision-${process.pid}`,
  probe: (component: Component, what: string) => `kvflow-test-${component}-${what}-${process.pid}`,
};
const READY_WITHIN_MS = 20_000;
const APPLIED_WITHIN_MS = 10_000;

// The chart's grace periods: the producer's is fixed in its template, the consumer's is shutdownGraceSeconds + 5
// (and the worker itself gets SHUTDOWN_GRACE_MS = shutdownGraceSeconds).
const producerTemplate = readFileSync(join(ROOT, 'charts/kvflow/templates/producer-deployment.yaml'), 'utf8');
const producerGraceS = Number(/terminationGracePeriodSeconds: (\d+)/.exec(producerTemplate)?.[1]);
const shutdownGraceS = (
  parse(readFileSync(join(ROOT, 'charts/kvflow/values.yaml'), 'utf8')) as {
    consumer: { shutdownGraceSeconds: number };
  }
).consumer.shutdownGraceSeconds;
const GRACE_S: Record<Component, number> = { producer: producerGraceS, consumer: shutdownGraceS + 5 };

interface ImagesReport {
  tag: string;
  buildSeconds?: number;
  images: Partial<Record<Component, { image: string; sizeBytes: number; sizeMB: number }>>;
  readyMs: Partial<Record<Component, number>>;
  appliedMs?: number;
  stop: Partial<Record<Component, { signal: 'SIGTERM'; exitCode: number; ms: number; graceSeconds: number }>>;
}
const report: ImagesReport = { tag: TAG, images: {}, readyMs: {}, stop: {} };

/** GET http://127.0.0.1:port/readyz until it answers 200; the ms it took, or an error with the container's logs. */
async function readyWithin(name: string, port: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let last = 'no answer';
  while (performance.now() - started < timeoutMs) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return Math.round(performance.now() - started);
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    const s = state(name);
    if (s && s.status !== 'running')
      throw new Error(`${name} is ${s.status} (exit ${s.exitCode}) before ready:\n${logs(name)}`);
    await sleep(200);
  }
  throw new Error(`${name}: /readyz not 200 within ${timeoutMs} ms (last: ${last}):\n${logs(name)}`);
}

beforeAll(async () => {
  // Never skipped: without podman the suite fails and says how to get it.
  const missing = podmanMissing();
  if (missing) throw new Error(missing);
  const started = performance.now();
  await runLive('bash', ['scripts/build-images.sh', REPOSITORY, TAG], 20 * 60_000);
  report.buildSeconds = Math.round((performance.now() - started) / 100) / 10;
  for (const component of COMPONENTS) {
    const sizeBytes = imageSize(IMAGE[component]);
    report.images[component] = {
      image: IMAGE[component],
      sizeBytes,
      sizeMB: Math.round(sizeBytes / 1e5) / 10,
    };
    console.info(`${IMAGE[component]}: ${(sizeBytes / 1e6).toFixed(1)} MB`);
  }
}, 20 * 60_000);

const ctx = useServers();

afterAll(() => {
  // The report first: it is written whatever failed, partial when a step did not run.
  const out = join(ROOT, 'test-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'images.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (podmanMissing()) return;
  removeContainers([
    NAME.producer,
    NAME.consumer,
    NAME.provision,
    ...COMPONENTS.flatMap((c) => ['uid', 'rootfs', 'tmp'].map((w) => NAME.probe(c, w))),
  ]);
});

describe('the kvflow images as built (podman, run as the chart runs them)', () => {
  const ports = { producer: 0, consumer: 0 };
  const streamEnv = streamNames(`IMAGES_${process.pid}`);
  // What the chart's ConfigMaps give both services (provisioning is the hook Job's), pointed at the test servers.
  const serviceEnv = () => ({
    NATS_URL: ctx.nats.url,
    REDIS_URL: ctx.redis.url,
    LOG_LEVEL: 'info',
    ...streamEnv,
    PROVISION: 'false',
  });

  it.each(COMPONENTS)(
    '%s: runs as uid 1000 (the image USER), with a read-only root and a writable /tmp',
    (c) => {
      const uid = runOnce({
        name: NAME.probe(c, 'uid'),
        image: IMAGE[c],
        chart: false,
        entrypoint: 'id',
        args: ['-u'],
      });
      expect(uid, uid.stderr).toMatchObject({ code: 0 });
      expect(uid.stdout.trim()).toBe('1000');

      const rootfs = runOnce({
        name: NAME.probe(c, 'rootfs'),
        image: IMAGE[c],
        entrypoint: 'sh',
        args: ['-c', 'touch /kvflow-probe'],
      });
      expect(rootfs.code).not.toBe(0);
      expect(rootfs.stderr).toMatch(/Read-only file system/);

      const tmp = runOnce({
        name: NAME.probe(c, 'tmp'),
        image: IMAGE[c],
        entrypoint: 'sh',
        args: ['-c', 'echo ok > /tmp/kvflow-probe && cat /tmp/kvflow-probe'],
      });
      expect(tmp, tmp.stderr).toMatchObject({ code: 0 });
      expect(tmp.stdout.trim()).toBe('ok');
    },
  );

  it("consumer image: the provisioning Job's command creates the stream and the durable consumer, exits 0", async () => {
    const env = { NATS_URL: ctx.nats.url, LOG_LEVEL: 'info', ...streamEnv };
    const r = runOnce({
      name: NAME.provision,
      image: IMAGE.consumer,
      entrypoint: 'node',
      args: ['consumer/dist/provision-main.js'],
      env,
    });
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    const s = settingsFor(env);
    const jsm = await jetstreamManager(ctx.nc);
    expect((await jsm.streams.info(s.stream)).config.subjects).toEqual([s.subject]);
    expect((await jsm.consumers.info(s.stream, s.consumer)).name).toBe(s.consumer);
  });

  it(`consumer image: the worker's /readyz answers 200 within ${READY_WITHIN_MS / 1000} s`, async () => {
    ports.consumer = await freePort();
    runDetached({
      name: NAME.consumer,
      image: IMAGE.consumer,
      env: {
        ...serviceEnv(),
        METRICS_HOST: '127.0.0.1',
        METRICS_PORT: String(ports.consumer),
        SHUTDOWN_GRACE_MS: String(shutdownGraceS * 1000),
      },
    });
    report.readyMs.consumer = await readyWithin(NAME.consumer, ports.consumer, READY_WITHIN_MS);
  });

  it(`producer image: /readyz 200 within ${READY_WITHIN_MS / 1000} s; PUT /keys/<key> is 202 and applied by the worker within ${APPLIED_WITHIN_MS / 1000} s`, async () => {
    ports.producer = await freePort();
    runDetached({
      name: NAME.producer,
      image: IMAGE.producer,
      env: { ...serviceEnv(), HTTP_HOST: '127.0.0.1', HTTP_PORT: String(ports.producer), RATE: '0' },
    });
    report.readyMs.producer = await readyWithin(NAME.producer, ports.producer, READY_WITHIN_MS);

    const key = `images-test-${process.pid}`;
    const value = `written through the producer image at ${new Date().toISOString()}`;
    const url = `http://127.0.0.1:${ports.producer}/keys/${encodeURIComponent(key)}`;
    const put = await fetch(url, { method: 'PUT', body: value, headers: { 'content-type': 'text/plain' } });
    expect(put.status, await put.clone().text()).toBe(202);
    const { seq } = (await put.json()) as { seq: number };
    expect(seq).toBeGreaterThan(0);

    // Read your write: the GET waits until the worker container applied that sequence to Redis.
    const started = performance.now();
    const got = await fetch(`${url}?min_seq=${seq}&wait_ms=${APPLIED_WITHIN_MS}`, {
      signal: AbortSignal.timeout(APPLIED_WITHIN_MS + 5000),
    });
    report.appliedMs = Math.round(performance.now() - started);
    const body = await got.text();
    expect(got.status, `${body}\nworker:\n${logs(NAME.consumer)}`).toBe(200);
    expect(body).toBe(value);
    expect(report.appliedMs).toBeLessThan(APPLIED_WITHIN_MS);
  });

  it(`SIGTERM: each container exits 0 within its grace period (producer ${GRACE_S.producer} s, consumer ${GRACE_S.consumer} s)`, async () => {
    expect(Number.isInteger(GRACE_S.producer) && Number.isInteger(GRACE_S.consumer)).toBe(true);
    const stopped = await Promise.all(
      COMPONENTS.map(async (c) => {
        const graceMs = GRACE_S[c] * 1000;
        const started = performance.now();
        kill(NAME[c], 'SIGTERM');
        const { code } = await waitExit(NAME[c], graceMs + 10_000);
        const ms = Math.round(performance.now() - started);
        report.stop[c] = { signal: 'SIGTERM', exitCode: code, ms, graceSeconds: GRACE_S[c] };
        console.info(`${c}: SIGTERM -> exit ${code} in ${ms} ms (grace ${GRACE_S[c]} s)`);
        return { c, code, ms, graceMs, output: logs(NAME[c], 15) };
      }),
    );
    for (const s of stopped) {
      expect(s.code, `${s.c} exit code; its last output:\n${s.output}`).toBe(0);
      expect(s.ms, `${s.c} stop time`).toBeLessThan(s.graceMs);
    }
  });
});
