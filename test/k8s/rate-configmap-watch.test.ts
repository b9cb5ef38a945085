import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { decodeEvent, type KvEvent } from '@kvflow/common';
import { freePort, httpReady, ROOT, type ServiceProcess, waitUntil } from '@kvflow/stack';
import {
  findKubeBinary,
  type KubeApiServer,
  requireKubeBinaries,
  scrapeMetric,
  serviceEnv,
  spawnService,
  startKubeApiServer,
  streamNames,
} from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * `task update-rate` against a real kube-apiserver (etcd + kube-apiserver from local-k8s/build-binaries.sh, RBAC
 * on): the namespace, the rate ConfigMap, the producer's ServiceAccount, Role and RoleBinding exactly as the chart
 * renders them; the real producer process with the environment its Deployment gives it and a token for that
 * ServiceAccount. A patch of the ConfigMap reaches the running producer within a second, invalid data is refused
 * and counted, and an API server outage neither changes the rate nor makes the producer unready.
 */

const CHART = join(ROOT, 'charts/kvflow');
const NAMESPACE = 'kvflow-rate';
const RELEASE = 'kvflow';

type K8sObject = {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: {
        serviceAccountName: string;
        containers: Array<{
          env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
        }>;
      };
    };
  };
};

function render(): K8sObject[] {
  const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', '1.34.0'];
  args.push('--set-json', 'producer.rate.rate=2');
  for (const t of ['configmap', 'serviceaccount', 'rbac', 'producer-deployment', 'networkpolicies'])
    args.push('--show-only', `templates/${t}.yaml`);
  const r = spawnSync('helm', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`helm not found (run bash scripts/install-k8s-tools.sh): ${r.error.message}`);
  if (r.status !== 0) throw new Error(r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const ctx = useServers();
let kube: KubeApiServer | undefined;
let producer: ServiceProcess | undefined;
let port = 0;
let rateConfigMap = '';
const stream = streamNames('RATECM');

/** Exactly what `task update-rate` runs (Taskfile.yml), with the data given. */
const updateRate = (data: Record<string, string>) =>
  kube?.kubectl([
    '-n',
    NAMESPACE,
    'patch',
    'configmap',
    rateConfigMap,
    '--type',
    'merge',
    '-p',
    JSON.stringify({ data }),
  ]);

async function rate(): Promise<{ profile: Record<string, unknown>; target_rate: number }> {
  return (await fetch(`http://127.0.0.1:${port}/rate`)).json() as never;
}

const metric = (sample: string) => scrapeMetric(port, sample);

/** Patches the ConfigMap and measures how long after the patch is stored the producer's GET /rate shows it. */
async function followMs(
  data: Record<string, string>,
  shows: (r: Awaited<ReturnType<typeof rate>>) => boolean,
) {
  await updateRate(data);
  const stored = performance.now();
  await waitUntil('the producer to show the patched rate', async () => shows(await rate()), 5_000);
  return performance.now() - stored;
}

/** Missing binaries fail the run, naming them and how to build them: never a silent skip. */
const missingBinaries = (() => {
  try {
    requireKubeBinaries();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
})();

it('has kube-apiserver, kubectl and etcd to run against', () => {
  if (missingBinaries) throw new Error(missingBinaries);
});

describe.skipIf(missingBinaries !== null)(
  'the producer follows its rate ConfigMap through a real kube-apiserver',
  () => {
    beforeAll(async () => {
      kube = await startKubeApiServer();
      const objects = render();
      const deployment = objects.find((o) => o.kind === 'Deployment');
      const rateCm = objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-producer-rate'),
      );
      if (!deployment?.spec || !rateCm?.data)
        throw new Error('the chart rendered no producer Deployment or rate ConfigMap');
      rateConfigMap = rateCm.metadata.name;
      await kube.kubectl(['create', 'namespace', NAMESPACE]);
      // Everything rendered, the Deployment and NetworkPolicies too: the API server validates them (nothing runs
      // them here: no controllers, no nodes; the producer below is a process with the Deployment's environment).
      await kube.kubectl(
        ['-n', NAMESPACE, 'apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
      );

      // The producer container's environment as the Deployment gives it: the rate ConfigMap (envFrom) and its own
      // variables (the downward API's namespace resolved); NATS and Redis are the test servers.
      const pod = deployment.spec.template.spec;
      const own: Record<string, string> = {};
      for (const e of pod.containers[0]?.env ?? []) {
        if (e.value !== undefined) own[e.name] = e.value;
        else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') own[e.name] = NAMESPACE;
      }
      expect(own.RATE_CONFIGMAP).toBe(rateConfigMap);
      port = await freePort();
      producer = spawnService(
        'producer/dist/main.js',
        serviceEnv(ctx.nats, ctx.redis, {
          ...rateCm.data,
          ...own,
          ...stream,
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: String(port),
          BACKLOG_POLL_MS: '0',
          LOG_LEVEL: 'info',
          // What Kubernetes gives every pod, pointed at the test API server; the token is the ServiceAccount's.
          KUBERNETES_SERVICE_HOST: '127.0.0.1',
          KUBERNETES_SERVICE_PORT: String(kube.port),
          KUBE_SERVICE_ACCOUNT_DIR: await kube.serviceAccountDir(NAMESPACE, pod.serviceAccountName),
        }),
      );
      ctx.services.push(producer);
      await waitUntil('producer ready', () => httpReady(port), 30_000);
      await waitUntil(
        'the rate ConfigMap watch up',
        async () => (await metric('kvflow_rate_config_watch_up')) === 1,
        10_000,
      );
    }, 120_000);

    afterAll(async () => {
      producer?.child.kill('SIGTERM');
      await producer?.exited;
      await kube?.stop();
    });

    it("grants the producer's ServiceAccount its rate ConfigMap only, and the workers' nothing", async () => {
      // `kubectl auth can-i` prints yes or no (exit code 0 or 1), as the API server's SubjectAccessReview says.
      const can = (who: string, verb: string, resource: string) => {
        const as = `--as=system:serviceaccount:${NAMESPACE}:${who}`;
        const r = spawnSync(
          findKubeBinary('kubectl') as string,
          [`--kubeconfig=${kube?.kubeconfig}`, 'auth', 'can-i', as, '-n', NAMESPACE, verb, resource],
          { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' } },
        );
        return r.stdout.trim();
      };
      for (const verb of ['get', 'list', 'watch'])
        expect(can('kvflow-producer', verb, `configmaps/${rateConfigMap}`), verb).toBe('yes');
      expect(can('kvflow-producer', 'get', 'configmaps/kvflow-config')).toBe('no');
      expect(can('kvflow-producer', 'list', 'configmaps')).toBe('no');
      expect(can('kvflow-producer', 'update', `configmaps/${rateConfigMap}`)).toBe('no');
      expect(can('kvflow-producer', 'get', 'secrets/kvflow-credentials')).toBe('no');
      expect(can('kvflow', 'get', `configmaps/${rateConfigMap}`)).toBe('no');
    });

    it('starts at the rate the ConfigMap had, and applies `task update-rate` within a second, without a restart', async () => {
      expect((await rate()).profile).toEqual({ kind: 'constant', rate: 2 });
      const pid = producer?.child.pid;
      const constant = await followMs({ RATE: '7.5' }, (r) => r.profile.rate === 7.5);
      expect(constant).toBeLessThan(1_000);
      const burst = await followMs(
        { RATE: '1', PROFILE: 'burst', BURST_RATE: '40', BURST_S: '2', PERIOD_S: '10' },
        (r) => r.profile.kind === 'burst',
      );
      expect(burst).toBeLessThan(1_000);
      expect((await rate()).profile).toEqual({
        kind: 'burst',
        rate: 1,
        burstRate: 40,
        burstS: 2,
        periodS: 10,
      });
      expect(producer?.child.pid).toBe(pid);
      expect(producer?.child.exitCode).toBeNull();
      expect(await metric('kvflow_rate_config_applied_total')).toBe(2);
      expect(producer?.output()).toContain('rate ConfigMap applied');
    });

    it('applies KEY_SPACE and VALUE_SIZE live: the events generated afterwards have the new shape', async () => {
      const applied = await metric('kvflow_rate_config_applied_total');
      await updateRate({ RATE: '100', PROFILE: 'constant', KEY_SPACE: '3', VALUE_SIZE: '5' });
      await waitUntil(
        'applied',
        async () => (await metric('kvflow_rate_config_applied_total')) === applied + 1,
        1_000,
      );
      const jsm = await jetstreamManager(ctx.nc);
      await new Promise((r) => setTimeout(r, 300)); // publishes begun before the change are acknowledged by now
      const from = (await jsm.streams.info(stream.STREAM_NAME as string)).state.last_seq + 1;
      await waitUntil(
        '30 more events',
        async () => (await jsm.streams.info(stream.STREAM_NAME as string)).state.last_seq >= from + 30,
      );
      const events: KvEvent[] = [];
      for (let seq = from; seq < from + 30; seq++) {
        const m = await jsm.streams.getMessage(stream.STREAM_NAME as string, { seq });
        const d = m && decodeEvent(m.data, 65_536);
        if (d?.ok) events.push(d.event);
      }
      expect(events).toHaveLength(30);
      for (const e of events) {
        expect(['key-0', 'key-1', 'key-2']).toContain(e.key);
        if (e.op === 'set') expect(e.value).toHaveLength(5);
      }
    });

    it('refuses invalid data: logs the key and what is allowed, counts it, keeps the rate', async () => {
      const before = await rate();
      await updateRate({ RATE: 'fast', PROFILE: 'zigzag' });
      await waitUntil(
        'the invalid RATE counted',
        async () => (await metric('kvflow_rate_config_invalid_total{key="RATE"}')) === 1,
        1_000,
      );
      expect(await metric('kvflow_rate_config_invalid_total{key="PROFILE"}')).toBe(1);
      expect(producer?.output()).toContain('RATE=\\"fast\\" is invalid: expected a number from 0 to 1000000');
      expect(producer?.output()).toContain(
        'PROFILE=\\"zigzag\\" is invalid: expected one of constant, step, sine, burst',
      );
      expect((await rate()).profile).toEqual(before.profile);
      // Fixed again: followed as usual.
      expect(await followMs({ RATE: '3', PROFILE: 'constant' }, (r) => r.profile.rate === 3)).toBeLessThan(
        1_000,
      );
    });

    it('keeps its rate and stays ready while the API server is down, then catches up (410 Gone: lists again)', async () => {
      // Another object changes (the producer's watch does not see it), so the version the producer would resume
      // from is older than the cluster's history after the compaction below.
      await kube?.kubectl(['-n', NAMESPACE, 'create', 'configmap', 'unrelated', '--from-literal=x=1']);
      await kube?.stopApiServer();
      await waitUntil(
        'the watch reported down',
        async () => (await metric('kvflow_rate_config_watch_up')) === 0,
        10_000,
      );
      expect(await httpReady(port)).toBe(true);
      expect((await rate()).profile).toEqual({ kind: 'constant', rate: 3 });
      // History the producer would resume from is gone when the API server comes back.
      await kube?.compactEtcd();
      await kube?.startApiServer();
      await waitUntil(
        'the watch up again',
        async () => (await metric('kvflow_rate_config_watch_up')) === 1,
        60_000,
      );
      expect(producer?.output()).toContain('rate ConfigMap watch down');
      expect(producer?.output()).toContain('(410 Gone): listing again');
      // The re-list found the version already applied: nothing applied twice.
      const applied = await metric('kvflow_rate_config_applied_total');
      expect(await followMs({ RATE: '4' }, (r) => r.profile.rate === 4)).toBeLessThan(1_000);
      expect(await metric('kvflow_rate_config_applied_total')).toBe(applied + 1);
    });
  },
);
