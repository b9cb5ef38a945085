import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_FLAGS } from '@kvflow/common';
import { consumerSettings } from '@kvflow/consumer';
import { producerSettings } from '@kvflow/producer';
import { ROOT } from '@kvflow/stack';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

/** Kubernetes delivery beyond the chart: helmfile, Taskfile, Dockerfiles, secrets hygiene. */

/** Runs a tool with plain output: CI=true makes task colour its listings, and the tests read them as text. */
function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  if (r.error)
    throw new Error(`${cmd} not found (run bash scripts/install-k8s-tools.sh): ${r.error.message}`);
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

describe('the infrastructure helmfile against the upstream charts it pins', () => {
  // Copies of the upstream charts at the pinned versions (no chart repository is reachable from these machines).
  const upstream = join(ROOT, 'helmfiles/upstream-charts');
  type Doc = { kind: string; metadata: { name: string }; spec?: unknown };
  /** A value deep in a rendered object, by a dotted path. */
  const at = (value: unknown, path: string): unknown =>
    path
      .split('.')
      .reduce<unknown>(
        (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
        value,
      );
  const render = (extra: string[] = [], env = 'local') => {
    const r = run('helmfile', [
      '-e',
      env,
      '-f',
      'helmfiles/00-infra.yaml.gotmpl',
      ...(env === 'local-k8s' ? [] : ['--state-values-set', `upstreamCharts=${upstream}`]),
      ...extra,
      'template',
      '--skip-deps',
      '--args',
      '--kube-version=1.34.4',
    ]);
    expect(r.code, r.out).toBe(0);
    return parseAllDocuments(r.out.slice(r.out.indexOf('---')))
      .map((d) => d.toJS() as Doc | null)
      .filter((d): d is Doc => d !== null && typeof d === 'object' && 'kind' in d);
  };

  it("renders every release offline from helmfiles/upstream-charts, and what kvflow's values point at exists there", () => {
    const docs = render();
    const find = (kind: string, name: string) =>
      docs.find((d) => d.kind === kind && d.metadata.name === name);
    const ports = (name: string) =>
      (at(find('Service', name), 'spec.ports') as Array<{ port: number }> | undefined)?.map((p) => p.port) ??
      [];
    const kvflow = parse(readFileSync(join(ROOT, 'charts/kvflow/values.yaml'), 'utf8')) as {
      nats: { url: string; monitoringEndpoint: string };
      redis: { url: string };
      dashboards: { sidecarLabel: string; sidecarLabelValue: string };
    };
    // NATS client and monitoring services, Valkey's service: the names and ports kvflow's values use.
    const natsUrl = new URL(kvflow.nats.url);
    expect(ports(natsUrl.hostname.split('.')[0] as string)).toContain(Number(natsUrl.port));
    const [monitorHost, monitorPort] = kvflow.nats.monitoringEndpoint.split(':');
    expect(ports(monitorHost?.split('.')[0] as string)).toContain(Number(monitorPort));
    const redisUrl = new URL(kvflow.redis.url);
    expect(ports(redisUrl.hostname.split('.')[0] as string)).toContain(Number(redisUrl.port));
    // Valkey's volume is ReadWriteOnce: Recreate, or an upgrade hangs on Multi-Attach.
    expect(at(find('Deployment', 'valkey'), 'spec.strategy')).toEqual({ type: 'Recreate' });
    // Prometheus selects PodMonitors of every namespace; the Grafana sidecar watches kvflow's dashboard label.
    expect(at(find('Prometheus', 'kube-prometheus-stack-prometheus'), 'spec.podMonitorSelector')).toEqual({});
    const sidecar = (
      at(find('Deployment', 'kube-prometheus-stack-grafana'), 'spec.template.spec.containers') as Array<{
        name: string;
        env?: Array<{ name: string; value?: string }>;
      }>
    ).find((c) => c.name === 'grafana-sc-dashboard');
    const env = Object.fromEntries((sidecar?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      LABEL: kvflow.dashboards.sidecarLabel,
      LABEL_VALUE: kvflow.dashboards.sidecarLabelValue,
      FOLDER_ANNOTATION: 'grafana_folder',
      NAMESPACE: 'ALL',
    });
    // The KEDA CRDs the chart's ScaledObject needs, and the PodMonitors of NATS and KEDA.
    expect(find('CustomResourceDefinition', 'scaledobjects.keda.sh')).toBeTruthy();
    expect(docs.filter((d) => d.kind === 'PodMonitor').map((d) => d.metadata.name)).toEqual(
      expect.arrayContaining(['nats', 'keda-operator']),
    );
    expect(find('Service', 'sealed-secrets-controller')).toBeTruthy();
  });

  it('puts the storageClass value on the NATS and Valkey volumes, and none by default', () => {
    const classes = (docs: Doc[]) => ({
      nats: docs
        .filter((d) => d.kind === 'StatefulSet' && d.metadata.name === 'nats')
        .flatMap(
          (d) => (at(d, 'spec.volumeClaimTemplates') as Array<{ spec: { storageClassName?: string } }>) ?? [],
        )
        .map((v) => v.spec.storageClassName ?? null),
      valkey: docs
        .filter((d) => d.kind === 'PersistentVolumeClaim')
        .map((d) => (at(d, 'spec.storageClassName') as string | undefined) ?? null),
    });
    expect(classes(render())).toEqual({ nats: [null], valkey: [null] });
    expect(classes(render(['--state-values-set', 'storageClass=gp3']))).toEqual({
      nats: ['gp3'],
      valkey: ['gp3'],
    });
  });
  it('the local node (local-k8s) gets the same releases from upstream-charts, and every image they ask for is built', () => {
    const docs = render([], 'local-k8s');
    const kinds = (d: Doc[]) => d.map((x) => `${x.kind}/${x.metadata.name}`);
    // The node's overrides only remove: Grafana, the admission webhooks, the NATS exporter and nats-box.
    const local = new Set(kinds(render()));
    const node = kinds(docs);
    expect(node.filter((k) => !local.has(k))).toEqual([]);
    for (const gone of ['Deployment/kube-prometheus-stack-grafana', 'Deployment/nats-box'])
      expect(node).not.toContain(gone);
    // Every container image of every workload (and the Prometheus, Alertmanager and config reloader the operator
    // makes), normalized as containerd names them, is one local-k8s/build-images.sh builds.
    // (Docker's rule: a first path component with a dot is a registry; a bare name is in library/.)
    const normalize = (image: string) => {
      const [first = '', ...rest] = image.split('/');
      if (rest.length > 0 && first.includes('.')) return image;
      return `docker.io/${rest.length > 0 ? image : `library/${image}`}`;
    };
    const images = new Set<string>();
    for (const d of docs) {
      if (d.kind === 'Pod') continue; // helm test hooks: not run on install
      const spec = (at(d, 'spec.template.spec') ??
        (d.kind === 'Prometheus' || d.kind === 'Alertmanager' ? d.spec : undefined)) as
        | {
            containers?: Array<{ image?: string }>;
            initContainers?: Array<{ image?: string }>;
            image?: string;
          }
        | undefined;
      if (!spec) continue;
      if (spec.image) images.add(normalize(spec.image));
      for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])])
        if (c.image) images.add(normalize(c.image));
      for (const a of (at(d, 'spec.template.spec.containers') as Array<{ args?: string[] }> | undefined) ??
        [])
        for (const arg of a.args ?? [])
          if (arg.startsWith('--prometheus-config-reloader=')) images.add(normalize(arg.split('=')[1] ?? ''));
    }
    const built = run('bash', ['local-k8s/build-images.sh', '--list']);
    expect(built.code, built.out).toBe(0);
    const missing = [...images].filter((i) => !built.out.split('\n').includes(i));
    expect(missing).toEqual([]);
    expect(images.size).toBeGreaterThanOrEqual(14);
  });
});

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

  it('installs the sealed-secrets controller under the name and namespace secrets/seal.sh hands kubeseal', () => {
    // Where helmfile puts the controller: the release's namespace and fullnameOverride, as helmfile resolves them.
    const built = run('helmfile', [
      '-e',
      'local',
      '-f',
      'helmfiles/00-infra.yaml.gotmpl',
      '--selector',
      'name=sealed-secrets',
      'build',
    ]);
    expect(built.code, built.out).toBe(0);
    const state = parseAllDocuments(built.out)
      .map((d) => d.toJS() as { releases?: Array<{ name: string; namespace: string; values?: unknown[] }> })
      .find((d) => d?.releases);
    const release = state?.releases?.find((r) => r.name === 'sealed-secrets');
    const values = Object.assign({}, ...(release?.values ?? [])) as { fullnameOverride?: string };
    expect(values.fullnameOverride).toBeTruthy();

    // What seal.sh asks kubeseal for: run it against a recording kubeseal.
    const sealed = runSeal({ withKubeseal: true, plainIgnored: true, plainExists: true });
    expect(sealed.code, sealed.out).toBe(0);
    const argv = sealed.kubesealArgs;
    expect(argv[argv.indexOf('--controller-name') + 1]).toBe(values.fullnameOverride);
    expect(argv[argv.indexOf('--controller-namespace') + 1]).toBe(release?.namespace);
    expect(sealed.sealedFile).toContain('kind: SealedSecret');
  });

  it.each([
    [{ withKubeseal: false, plainIgnored: true, plainExists: true }, 1, 'kubeseal not found'],
    [
      { withKubeseal: true, plainIgnored: true, plainExists: false },
      2,
      'kvflow-credentials.plain.yaml: copy secrets/kvflow-credentials.example.yaml',
    ],
    [{ withKubeseal: true, plainIgnored: false, plainExists: true }, 1, 'is not git-ignored: refusing'],
  ])('secrets/seal.sh refuses to run when %o', (situation, code, message) => {
    const r = runSeal(situation);
    expect(r.code, r.out).toBe(code);
    expect(r.out).toContain(message);
    expect(r.sealedFile).toBeNull();
  });
});

/**
 * Runs a copy of secrets/seal.sh in a scratch git repository, with a PATH holding only what the script needs and,
 * if asked, a kubeseal that records its arguments and answers with a SealedSecret.
 */
function runSeal(o: { withKubeseal: boolean; plainIgnored: boolean; plainExists: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-seal-'));
  const bin = join(dir, 'bin');
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  mkdirSync(bin);
  for (const tool of ['bash', 'git', 'dirname', 'mv', 'cat']) {
    symlinkSync(run('sh', ['-c', `command -v ${tool}`]).out.trim(), join(bin, tool));
  }
  const argsFile = join(dir, 'kubeseal-args');
  if (o.withKubeseal) {
    writeFileSync(
      join(bin, 'kubeseal'),
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${argsFile}'\ncat >/dev/null\nprintf 'kind: SealedSecret\\n'\n`,
      { mode: 0o755 },
    );
  }
  copyFileSync(join(ROOT, 'secrets/seal.sh'), join(dir, 'secrets/seal.sh'));
  run('git', ['-C', dir, 'init', '-q']);
  if (o.plainIgnored) writeFileSync(join(dir, '.gitignore'), 'secrets/*.plain.yaml\n');
  if (o.plainExists)
    writeFileSync(join(dir, 'secrets/kvflow-credentials.plain.yaml'), 'kind: Secret\nstringData: {}\n');
  const r = spawnSync(join(bin, 'bash'), [join(dir, 'secrets/seal.sh')], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: bin, HOME: dir },
  });
  const sealedPath = join(dir, 'secrets/kvflow-credentials.sealed.yaml');
  return {
    code: r.status ?? 1,
    out: `${r.stdout}${r.stderr}`,
    kubesealArgs: existsSync(argsFile) ? readFileSync(argsFile, 'utf8').trim().split('\n') : [],
    sealedFile: existsSync(sealedPath) ? readFileSync(sealedPath, 'utf8') : null,
  };
}

describe('Taskfile', () => {
  /** A kubectl for the tasks' preconditions: one whose config has a current context, or one without any. */
  const fakeKubectl = (kind: 'with-context' | 'no-context') => {
    const dir = mkdtempSync(join(tmpdir(), 'kvflow-kubectl-'));
    const contextExit = kind === 'with-context' ? 0 : 1;
    writeFileSync(
      join(dir, 'kubectl'),
      `#!/bin/sh\n[ "$1 $2" = "config current-context" ] && exit ${contextExit}\nexit 0\n`,
      { mode: 0o755 },
    );
    return dir;
  };
  type Listed = { tasks: Array<{ name: string; desc: string }> };
  const listed = (flag: string) => {
    const r = run('task', [flag, '--json']);
    expect(r.code, r.out).toBe(0);
    return (JSON.parse(r.out) as Listed).tasks;
  };

  it('task deploy applies the SealedSecret before the release, and syncs without the helm-diff plugin', () => {
    // helm-diff is refused by the Go module proxy here, so no helm on this machine has it: helmfile sync.
    const r = run('task', ['--dry', 'deploy', 'ENV=local', 'REPO=registry.example.com/kvflow'], {
      PATH: `${fakeKubectl('with-context')}:${process.env.PATH}`,
    });
    expect(r.code, r.out).toBe(0);
    const sealed = r.out.indexOf('kubectl -n kvflow apply -f secrets/kvflow-credentials.sealed.yaml');
    const release = r.out.indexOf('helmfile -e local -f helmfiles/10-kvflow.yaml.gotmpl sync');
    expect(sealed, r.out).toBeGreaterThan(0);
    expect(release).toBeGreaterThan(sealed);
    expect(r.out).toContain(
      'needs the sealed-secrets controller, which is not installed: task infra -- apply',
    );
  });

  it('lists every task the users run, and every task has a description', () => {
    // task --list shows only described tasks; --list-all shows every one: the same set means none lacks one.
    const described = listed('--list');
    const all = listed('--list-all');
    expect(described.map((t) => t.name)).toEqual(all.map((t) => t.name));
    const byName = new Map(described.map((t) => [t.name, t.desc]));
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
      expect(byName.get(name), `task ${name}`).toBeTruthy();
    }
    const list = run('task', ['--list']);
    expect(list.code).toBe(0);
    expect(list.out.match(/^\* /gm)?.length).toBe(all.length);
  });

  it.each([
    [['update-rate'], 'missing required variables: RATE'],
    [['update-rate', 'RATE=fast'], 'RATE must be a number of events/s'],
    [['deploy'], 'REPO is required'],
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

  it.each([[['update-rate', 'RATE=500']], [['logs']]])(
    'checks for a cluster as task deploy does before running kubectl: task %j',
    (args) => {
      // No kubeconfig at all: kubectl would talk to localhost:8080 (and update-rate would say "not deployed").
      const dir = mkdtempSync(join(tmpdir(), 'kvflow-kubeconfig-'));
      const r = run('task', args, {
        KUBECONFIG: join(dir, 'no-such-kubeconfig'),
        PATH: `${fakeKubectl('no-context')}:${process.env.PATH}`,
      });
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).toContain('kubectl has no current context: create a cluster');
      expect(r.out).not.toContain('not deployed');
      expect(r.out).not.toContain('localhost:8080');
    },
  );
});

type Instruction = { op: string; args: string; flags: Record<string, string>; words: string[] };
type Stage = { image: string; name?: string; instructions: Instruction[] };

/**
 * A Dockerfile as its stages and instructions (comments dropped, continuation lines joined, flags split off, build
 * arguments substituted).
 */
function parseDockerfile(text: string, buildArgs: Record<string, string> = {}): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/\$\{(\w+)\}/g, (m, name: string) => buildArgs[name] ?? m);
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const words = args.split(/\s+/).filter(Boolean);
    const flags: Record<string, string> = {};
    while (words[0]?.startsWith('--')) {
      const [k, v = ''] = (words.shift() as string).slice(2).split('=');
      flags[k as string] = v;
    }
    const ins: Instruction = { op: op.toUpperCase(), args, flags, words };
    if (ins.op === 'FROM') {
      const as = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({ image: words[0] as string, name: as > 0 ? words[as + 1] : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${ins.op} before the first FROM`);
      stage.instructions.push(ins);
    }
  }
  return stages;
}

type Manifest = { name: string; dependencies?: Record<string, string> };
const manifest = (dir: string) =>
  JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest;
const WORKSPACES = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] })
  .workspaces;
/** The workspace directories a package needs at run time: its @kvflow dependencies, transitively. */
function workspaceDeps(dir: string): string[] {
  const dirByName = new Map(WORKSPACES.map((w) => [manifest(w).name, w]));
  const seen = new Set<string>();
  const visit = (d: string) => {
    for (const dep of Object.keys(manifest(d).dependencies ?? {})) {
      const w = dirByName.get(dep);
      if (w && !seen.has(w)) {
        seen.add(w);
        visit(w);
      }
    }
  };
  visit(dir);
  return [...seen];
}

describe('images and secrets', () => {
  const DEFAULT_PORT = {
    producer: producerSettings.parse({}).httpPort,
    consumer: consumerSettings.parse({}).metricsPort,
  };

  it.each(['producer', 'consumer'] as const)(
    'the %s image: two node:24-bookworm-slim stages, every workspace manifest, production-only, non-root, node as PID 1',
    (svc) => {
      // One Dockerfile, built with --build-arg SERVICE=<svc> --target <svc>: build, runtime, then the service's stage.
      const all = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), { SERVICE: svc });
      // A stage as built: the stages it starts from, then its own instructions, and the image at the bottom.
      const resolved = (name: string): Stage => {
        const stage = all.find((s) => s.name === name);
        if (!stage) throw new Error(`no stage ${name} in the Dockerfile`);
        if (!all.some((s) => s.name === stage.image)) return stage;
        const base = resolved(stage.image);
        return { image: base.image, name, instructions: [...base.instructions, ...stage.instructions] };
      };
      const [build, final] = [resolved('build'), resolved(svc)];
      const stages = [build, final];
      expect(stages.map((s) => s.image)).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
      expect(build.name).toBe('build');
      const deps = workspaceDeps(svc);
      expect(deps.length).toBeGreaterThan(0);

      for (const stage of stages) {
        const where = `stage ${stage.name ?? 'final'}`;
        const install = stage.instructions.findIndex(
          (i) => i.op === 'RUN' && /\bnpm (install|ci)\b/.test(i.args),
        );
        expect(install, `${where}: npm install`).toBeGreaterThan(-1);
        // npm resolves the workspaces from the root package.json: every one listed must be there at install time.
        const copied = stage.instructions
          .slice(0, install)
          .filter((i) => i.op === 'COPY' && !i.flags.from)
          .flatMap((i) => i.words.slice(0, -1));
        for (const f of [
          'package.json',
          'package-lock.json',
          ...WORKSPACES.map((w) => `${w}/package.json`),
        ]) {
          expect(copied, `${where} copies ${f} before npm install`).toContain(f);
        }
      }

      // Build stage: compiles the service and the workspaces it uses, from their sources.
      const buildCopies = build.instructions
        .filter((i) => i.op === 'COPY')
        .flatMap((i) => i.words.slice(0, -1));
      for (const w of [svc, ...deps]) expect(buildCopies, `build copies ${w}/`).toContain(`${w}/`);
      expect(
        build.instructions.some((i) => i.op === 'RUN' && i.words.join(' ') === `npx tsc -b ${svc}`),
      ).toBe(true);

      // Final stage: production dependencies of this service only, the compiled output of it and its deps.
      const install = final.instructions.find((i) => i.op === 'RUN' && /\bnpm (install|ci)\b/.test(i.args));
      expect(install?.words, "final stage: npm install of this workspace's production dependencies").toEqual(
        expect.arrayContaining(['--omit=dev', `--workspace=${manifest(svc).name}`]),
      );
      expect(final.instructions).toContainEqual(
        expect.objectContaining({ op: 'ENV', words: ['NODE_ENV=production'] }),
      );
      const workdir = final.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.words[0];
      const fromBuild = final.instructions
        .filter((i) => i.op === 'COPY' && i.flags.from === 'build')
        .map((i) => i.words);
      for (const w of [svc, ...deps])
        expect(fromBuild, `final copies ${w}/dist`).toContainEqual([`${workdir}/${w}/dist`, `${w}/dist`]);

      // Runs as the image's non-root user, exposes the port the service listens on by default.
      expect(final.instructions.filter((i) => i.op === 'USER').at(-1)?.words).toEqual(['node']);
      expect(final.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.words)).toEqual([
        String(DEFAULT_PORT[svc]),
      ]);

      // Exec-form CMD and no ENTRYPOINT: node itself is PID 1 (a shell form would put /bin/sh there) and gets SIGTERM.
      expect(final.instructions.some((i) => i.op === 'ENTRYPOINT')).toBe(false);
      const cmds = final.instructions.filter((i) => i.op === 'CMD');
      expect(cmds).toHaveLength(1);
      expect(JSON.parse(cmds[0]?.args as string)).toEqual([
        'node',
        ...NODE_FLAGS[svc],
        `${svc}/dist/main.js`,
      ]);
      expect(existsSync(join(ROOT, svc, 'src/main.ts')), 'the CMD runs the compiled entry point').toBe(true);
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
