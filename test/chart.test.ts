import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autoscalingSchema } from '@kvflow/autoscale';
import { ROOT } from '@kvflow/stack';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadDemoSettings } from '../demo/src/demo-settings.js';

/**
 * The Helm chart, checked offline with the field's tools: helm lint, helm template with default and example
 * values, every rendered object validated against its schema (kubernetes-models, @kubernetes-models/keda and
 * prometheus-operator), the values schema rejecting bad input, helm-unittest, and the policy checks kube-linter
 * would apply.
 */

const CHART = join(ROOT, 'charts/kvflow');
const KUBE_VERSION = '1.31.0';
const VALUE_SETS: Record<string, string[]> = {
  default: [],
  demo: [join(CHART, 'values-demo.yaml')],
  production: [join(CHART, 'ci/production-values.yaml')],
};

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
};

function helm(args: string[]): { code: number; out: string } {
  const r = spawnSync('helm', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`helm not found (run bash scripts/install-k8s-tools.sh): ${r.error.message}`);
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

function render(valueFiles: string[], set: string[] = []): K8sObject[] {
  const args = ['template', 'kvflow', CHART, '--namespace', 'kvflow', '--kube-version', KUBE_VERSION];
  for (const f of valueFiles) args.push('-f', f);
  for (const s of set) args.push('--set', s);
  const r = helm(args);
  if (r.code !== 0) throw new Error(r.out);
  return parseAllDocuments(r.out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const MODELS: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'batch/v1': 'kubernetes-models/batch/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'keda.sh/v1alpha1': '@kubernetes-models/keda/keda.sh/v1alpha1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};

async function validateAgainstSchema(o: K8sObject): Promise<void> {
  const base = MODELS[o.apiVersion];
  if (!base) throw new Error(`no schema known for ${o.apiVersion} ${o.kind}`);
  const mod = (await import(`${base}/${o.kind}`)) as Record<string, new (x: unknown) => { validate(): void }>;
  const Model = mod[o.kind];
  if (!Model) throw new Error(`no model for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

type Container = {
  name: string;
  image: string;
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
};
type PodSpec = {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  automountServiceAccountToken?: boolean;
};

/** The arrival-rate trigger as the model reads it back from a rendered prometheus trigger (off when absent). */
function arrivalRateOf(metadata: Record<string, string> | undefined) {
  if (!metadata) return { enabled: false };
  const window = /\[(\d+)s\]\)\)$/.exec(metadata.query ?? '');
  return {
    enabled: true,
    perWorkerRate: Number(metadata.threshold),
    activationThreshold: Number(metadata.activationThreshold),
    windowSeconds: Number(window?.[1]),
  };
}

function podSpec(o: K8sObject): PodSpec | null {
  if (o.kind === 'Pod') return o.spec as unknown as PodSpec; // the `helm test` hook
  if (o.kind !== 'Deployment' && o.kind !== 'Job') return null;
  return (o.spec as { template: { spec: PodSpec } }).template.spec;
}

describe('Helm chart', () => {
  it.each(Object.entries(VALUE_SETS))('passes helm lint with %s values', (_name, files) => {
    const args = [
      'lint',
      CHART,
      '--strict',
      '--kube-version',
      KUBE_VERSION,
      ...files.flatMap((f) => ['-f', f]),
    ];
    const r = helm(args);
    expect(r.code, r.out).toBe(0);
  });

  // What a user's `helm lint --strict` / `helm template` do without a cluster: helm assumes the Kubernetes version
  // its release build linked in (the client-go it is built with), which must satisfy the chart's kubeVersion. A helm
  // from a bare `go install` assumes v1.20.0 and refuses the chart: scripts/install-k8s-tools.sh links it in.
  it.each(Object.entries(VALUE_SETS))(
    "passes helm lint --strict and renders with helm's own default Kubernetes version, %s values",
    (_name, files) => {
      const f = files.flatMap((file) => ['-f', file]);
      const hint = 'helm lacks its release ldflags: rebuild it with bash scripts/install-k8s-tools.sh';
      const lint = helm(['lint', CHART, '--strict', ...f]);
      expect(lint.code, `${hint}\n${lint.out}`).toBe(0);
      expect(lint.out).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(lint.out, 'helm lint --strict reports nothing, not even an INFO').not.toMatch(
        /\[(INFO|WARNING)\]/,
      );
      const template = helm(['template', 'kvflow', CHART, ...f]);
      expect(template.code, `${hint}\n${template.out}`).toBe(0);
    },
  );

  it.each(Object.entries(VALUE_SETS))(
    'renders only schema-valid objects with %s values',
    async (_name, files) => {
      const objects = render(files);
      expect(objects.map((o) => o.kind).sort()).toEqual(
        expect.arrayContaining([
          'ConfigMap',
          'Deployment',
          'Job',
          'NetworkPolicy',
          'Pod',
          'PodDisruptionBudget',
          'PodMonitor',
          'ScaledObject',
          'Service',
          'ServiceAccount',
        ]),
      );
      for (const o of objects) await validateAgainstSchema(o);
    },
  );

  it('catches an invalid object (the validators are live)', async () => {
    const [so] = render([]).filter((o) => o.kind === 'ScaledObject');
    const broken = { ...so, spec: { ...so?.spec, minReplicaCount: 'zero' } } as K8sObject;
    await expect(validateAgainstSchema(broken)).rejects.toThrow(/minReplicaCount must be integer/);
  });

  it.each([
    ['autoscaling.maxReplicaCount=0', "'/autoscaling/maxReplicaCount': minimum: got 0, want 1"],
    ['autoscaling.lagThreshold=lots', '/autoscaling/lagThreshold'],
    ['nats.monitoringEndpoint=http://nats:8222', '/nats/monitoringEndpoint'],
    ['producer.rate.profile=zigzag', '/producer/rate/profile'],
    ['stream.name=bad.name', '/stream/name'],
    ['surprise=1', 'additional properties'],
  ])('rejects %s through values.schema.json', (set, message) => {
    const r = helm(['template', 'kvflow', CHART, '--kube-version', KUBE_VERSION, '--set', set]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(message);
  });

  it('passes its helm-unittest suites (ScaledObject fields, Reloader annotation, secret references, the helm test hook, NOTES)', () => {
    const r = spawnSync('helm-unittest', ['--strict', CHART], { encoding: 'utf8' });
    if (r.error)
      throw new Error(`helm-unittest not found (run bash scripts/install-k8s-tools.sh): ${r.error.message}`);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/Tests:\s+\d+ passed/);
  });

  it('gives the local scaler and the ScaledObject the same numbers (one source of truth)', () => {
    const files = [join(CHART, 'values.yaml'), join(CHART, 'values-demo.yaml')];
    const local = loadDemoSettings(files).autoscaling;
    const so = render([join(CHART, 'values-demo.yaml')]).find((o) => o.kind === 'ScaledObject') as K8sObject;
    const spec = so.spec as {
      minReplicaCount: number;
      maxReplicaCount: number;
      pollingInterval: number;
      cooldownPeriod: number;
      triggers: Array<{ type: string; metadata: Record<string, string> }>;
      advanced: { horizontalPodAutoscalerConfig: { behavior: unknown } };
    };
    // What KEDA and the HPA will use: the rendered fields with the same defaults applied.
    const inCluster = autoscalingSchema.parse({
      minReplicaCount: spec.minReplicaCount,
      maxReplicaCount: spec.maxReplicaCount,
      pollingInterval: spec.pollingInterval,
      cooldownPeriod: spec.cooldownPeriod,
      lagThreshold: Number(spec.triggers[0]?.metadata.lagThreshold),
      activationLagThreshold: Number(spec.triggers[0]?.metadata.activationLagThreshold),
      arrivalRate: arrivalRateOf(spec.triggers.find((t) => t.type === 'prometheus')?.metadata),
      behavior: spec.advanced.horizontalPodAutoscalerConfig.behavior,
      hpa: local.hpa, // kube-controller-manager flags: not in the chart
    });
    expect(inCluster).toEqual(local);
    // The worker's termination grace matches what the local pool uses before SIGKILL.
    const consumer = render([join(CHART, 'values-demo.yaml')]).find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'kvflow-consumer',
    ) as K8sObject;
    const grace = (consumer.spec as { template: { spec: { terminationGracePeriodSeconds: number } } })
      .template.spec.terminationGracePeriodSeconds;
    expect(grace * 1000).toBe(loadDemoSettings(files).terminationGraceMs);
  });

  // The checks kube-linter applies to these objects (kube-linter itself cannot be installed here: the Go module
  // proxy refuses golang.stackrox.io and github.com/stackrox/kube-linter, and no other registry carries it).
  it.each(Object.entries(VALUE_SETS))('meets the kube-linter policies with %s values', (_name, files) => {
    const objects = render(files);
    const problems: string[] = [];
    for (const o of objects) {
      const spec = podSpec(o);
      if (!spec) continue;
      const where = `${o.kind}/${o.metadata.name}`;
      if (spec.securityContext?.runAsNonRoot !== true) problems.push(`${where}: run-as-non-root`);
      if (spec.automountServiceAccountToken !== false)
        problems.push(`${where}: service account token mounted`);
      for (const c of spec.containers) {
        const at = `${where}/${c.name}`;
        if (c.securityContext?.readOnlyRootFilesystem !== true) problems.push(`${at}: no-read-only-root-fs`);
        if (c.securityContext?.allowPrivilegeEscalation !== false)
          problems.push(`${at}: privilege-escalation-container`);
        if (!c.securityContext?.capabilities?.drop?.includes('ALL'))
          problems.push(`${at}: drop ALL capabilities`);
        if (!c.resources?.requests?.cpu || !c.resources.requests.memory)
          problems.push(`${at}: unset-cpu/memory-requirements`);
        if (!c.resources?.limits?.memory) problems.push(`${at}: unset-memory-requirements`);
        if (/:latest$/.test(c.image) || !/:[^/]+$/.test(c.image)) problems.push(`${at}: latest-tag`);
        if (o.kind === 'Deployment' && (!c.readinessProbe || !c.livenessProbe))
          problems.push(`${at}: no-readiness/liveness-probe`);
        for (const e of c.env ?? []) {
          if (/PASSWORD|TOKEN/.test(e.name) && e.value !== undefined)
            problems.push(`${at}: env-var-secret ${e.name}`);
        }
      }
    }
    // Every Deployment's, Job's and the test hook's pods are selected by a NetworkPolicy; the producer has a
    // PodDisruptionBudget.
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => JSON.stringify(o.spec));
    for (const component of ['producer', 'consumer', 'provision', 'api-test']) {
      if (!policies.some((p) => p.includes(`"app.kubernetes.io/component":"${component}"`)))
        problems.push(`no NetworkPolicy for ${component}`);
    }
    expect(
      objects.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'kvflow-producer'),
    ).toBe(true);
    expect(problems).toEqual([]);
  });

  it('puts nothing secret in the rendered manifests', () => {
    for (const files of Object.values(VALUE_SETS)) {
      const text = JSON.stringify(render(files));
      expect(render(files).some((o) => o.kind === 'Secret')).toBe(false);
      expect(text).not.toMatch(/password"\s*:\s*"[^"]/i);
    }
  });

  // Replaces a test that only printed `helm version`: what the chart's kubeVersion constraint does at install time.
  it('installs on the oldest Kubernetes its kubeVersion allows, and refuses an older cluster', () => {
    const { kubeVersion } = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { kubeVersion: string };
    const [, major, minor] = /^>=(\d+)\.(\d+)\.0-0$/.exec(kubeVersion) ?? [];
    expect(major, `kubeVersion ${kubeVersion} is a lower bound`).toBeDefined();
    const template = (kube: string) =>
      helm(['template', 'kvflow', CHART, '--kube-version', kube, '--show-only', 'templates/configmap.yaml']);
    const oldest = template(`${major}.${minor}.0`);
    expect(oldest.code, oldest.out).toBe(0);
    const older = `${major}.${Number(minor) - 1}.9`;
    const refused = template(older);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain(
      `chart requires kubeVersion: ${kubeVersion} which is incompatible with Kubernetes v${older}`,
    );
  });
});
