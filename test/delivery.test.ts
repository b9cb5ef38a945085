import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@kvflow/testkit';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

/** Kubernetes delivery beyond the chart: helmfile, Taskfile, Dockerfiles, secrets hygiene. */

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error)
    throw new Error(`${cmd} not found (run bash scripts/install-k8s-tools.sh): ${r.error.message}`);
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

describe('helmfile', () => {
  it.each(['local', 'production'])('lints the kvflow release in the %s environment', (env) => {
    const r = run('helmfile', ['-e', env, '--selector', 'name=kvflow', 'lint', '--skip-deps']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('lists the infrastructure with pinned chart versions', () => {
    const r = run('helmfile', ['-e', 'local', 'list', '--skip-charts', '--output', 'json']);
    expect(r.code, r.out).toBe(0);
    const releases = JSON.parse(r.out.slice(r.out.indexOf('['))) as Array<{
      name: string;
      chart: string;
      version: string;
    }>;
    const byName = Object.fromEntries(releases.map((x) => [x.name, x]));
    for (const name of ['kube-prometheus-stack', 'nats', 'valkey', 'keda', 'reloader', 'sealed-secrets']) {
      expect(byName[name]?.version, `${name} must pin a chart version`).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect(byName.kvflow?.chart).toBe('../charts/kvflow');
  });

  it('renders the demo settings for local and the defaults for production', () => {
    const scaledObject = (env: string) => {
      const r = run(
        'helmfile',
        [
          '-e',
          env,
          '--selector',
          'name=kvflow',
          'template',
          '--skip-deps',
          '--args',
          '--kube-version=1.31.0',
        ],
        {
          REPO: 'registry.example.com/kvflow',
          TAG: '1.2.3',
        },
      );
      expect(r.code, r.out).toBe(0);
      const docs = parseAllDocuments(r.out.slice(r.out.indexOf('---'))).map(
        (d) => d.toJS() as { kind?: string; spec?: Record<string, unknown> } | null,
      );
      const so = docs.find((d) => d?.kind === 'ScaledObject');
      const producer = docs.find(
        (d) => d?.kind === 'Deployment' && JSON.stringify(d).includes('kvflow-producer:1.2.3'),
      );
      expect(producer, 'image from REPO and TAG').toBeTruthy();
      return so?.spec as { maxReplicaCount: number; cooldownPeriod: number };
    };
    expect(scaledObject('local')).toMatchObject({ maxReplicaCount: 6, cooldownPeriod: 15 });
    expect(scaledObject('production')).toMatchObject({ maxReplicaCount: 10, cooldownPeriod: 300 });
  });

  it('names the sealed-secrets controller the way kubeseal expects', () => {
    const infra = readFileSync(join(ROOT, 'helmfiles/00-infra.yaml.gotmpl'), 'utf8');
    expect(infra).toContain('fullnameOverride: sealed-secrets-controller');
    expect(readFileSync(join(ROOT, 'secrets/seal.sh'), 'utf8')).toContain(
      '--controller-name sealed-secrets-controller --controller-namespace kube-system',
    );
  });
});

describe('Taskfile', () => {
  const tasks = parse(readFileSync(join(ROOT, 'Taskfile.yml'), 'utf8')).tasks as Record<
    string,
    { desc?: string }
  >;

  it('has every task the users run, each with a description', () => {
    for (const name of [
      'infra',
      'deploy',
      'update-rate',
      'teardown',
      'grafana',
      'expose',
      'logs',
      'status',
      'demo',
      'test',
      'bench',
      'run',
    ]) {
      expect(tasks[name]?.desc, `task ${name}`).toBeTruthy();
    }
    const list = run('task', ['--list']);
    expect(list.code).toBe(0);
    expect(list.out.match(/^\* /gm)?.length).toBe(Object.keys(tasks).length);
  });

  it.each([
    [['update-rate'], 'missing required variables: RATE'],
    [['update-rate', 'RATE=fast'], 'RATE must be a number of events/s'],
    [['deploy'], 'missing required variables: REPO'],
    [['run', 'ROLE=worker'], 'ROLE must be producer or consumer'],
  ])('explains what is missing: task %j', (args, message) => {
    const r = run('task', args);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(message);
  });

  it('says kubectl is missing when it is, and that there is no cluster when there is none', () => {
    // A PATH with task alone (its shell is built in): kubectl cannot be found.
    const bin = mkdtempSync(join(tmpdir(), 'kvflow-path-'));
    symlinkSync(run('sh', ['-c', 'command -v task']).out.trim(), join(bin, 'task'));
    const noKubectl = run(join(bin, 'task'), ['infra', '--', 'apply'], { PATH: bin });
    expect(noKubectl.code).not.toBe(0);
    expect(noKubectl.out).toContain('kubectl not found');
    // With kubectl but an empty kubeconfig: no current context.
    const noContext = run('task', ['status'], { KUBECONFIG: join(bin, 'empty-kubeconfig') });
    expect(noContext.code).not.toBe(0);
    expect(noContext.out).toMatch(/kubectl not found|kubectl has no current context/);
  });
});

describe('images and secrets', () => {
  it.each(['producer', 'consumer'])(
    'the %s Dockerfile is multi-stage, production-only, non-root, node as PID 1',
    (svc) => {
      const text = readFileSync(join(ROOT, svc, 'Dockerfile'), 'utf8');
      expect(text.match(/^FROM node:24-bookworm-slim/gm)).toHaveLength(2);
      expect(text).toContain('AS build');
      expect(text).toContain('--omit=dev');
      expect(text).toMatch(/^USER node$/m);
      expect(text).toContain(`CMD ["node", "${svc}/dist/main.js"]`);
    },
  );

  it('keeps secrets out of git: the plain file is ignored, only the template and sealed file are tracked', () => {
    expect(run('git', ['check-ignore', '-q', 'secrets/kvflow-credentials.plain.yaml']).code).toBe(0);
    expect(run('git', ['check-ignore', '-q', '.env']).code).toBe(0);
    const tracked = run('git', ['ls-files', 'secrets']).out.trim().split('\n');
    expect(tracked.every((f) => !f.endsWith('.plain.yaml'))).toBe(true);
    const template = parse(readFileSync(join(ROOT, 'secrets/kvflow-credentials.example.yaml'), 'utf8')) as {
      stringData: Record<string, string>;
    };
    expect(Object.values(template.stringData).every((v) => v === '')).toBe(true);
  });
});
