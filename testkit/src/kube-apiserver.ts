import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, ROOT } from '@kvflow/stack';

/**
 * A real Kubernetes API server for tests: etcd and kube-apiserver on free loopback ports, with a temporary
 * folder of certificates (openssl: a CA and the serving certificate, a service-account signing key pair), a static
 * admin token and --authorization-mode=RBAC, so whatever a ServiceAccount token is allowed is exactly what its
 * Roles grant. No controllers, no nodes: objects, RBAC, TokenRequest and watches are what it serves.
 */

/** Where local-k8s/build-binaries.sh puts the Kubernetes binaries (KVFLOW_K8S_HOME overrides, as there). */
export const K8S_BIN = join(process.env.KVFLOW_K8S_HOME ?? join(ROOT, '.kvflow/k8s'), 'bin');

export const K8S_BINARIES_HINT =
  'build them with: local-k8s/build-binaries.sh kubernetes (kube-apiserver and kubectl into .kvflow/k8s/bin; ' +
  'needs Go); etcd comes from apt (Debian: etcd-server)';

type KubeBinary = 'kube-apiserver' | 'kubectl' | 'etcd';

/** The binary: an override (KUBE_APISERVER_BIN, KUBECTL_BIN, ETCD_BIN), .kvflow/k8s/bin, then PATH for etcd. */
export function findKubeBinary(name: KubeBinary): string | null {
  const override = process.env[`${name.replace('-', '_').toUpperCase()}_BIN`];
  if (override) return existsSync(override) ? override : null;
  const built = join(K8S_BIN, name);
  if (existsSync(built)) return built;
  if (name !== 'etcd') return null; // the version the tests were written for, not whatever kubectl is on PATH
  try {
    return execFileSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Every binary, or an error that names the missing ones and where they come from. */
export function requireKubeBinaries(): Record<KubeBinary, string> {
  const names: KubeBinary[] = ['kube-apiserver', 'kubectl', 'etcd'];
  const found = Object.fromEntries(names.map((n) => [n, findKubeBinary(n)]));
  const missing = names.filter((n) => !found[n]);
  if (missing.length > 0)
    throw new Error(
      `${missing.join(', ')} not found (looked in ${K8S_BIN} and on PATH); ${K8S_BINARIES_HINT}`,
    );
  return found as Record<KubeBinary, string>;
}

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  /** The CA that signed the serving certificate (what a pod's ca.crt holds). */
  caFile: string;
  /** A kubeconfig for the admin (system:masters), for kubectl. */
  kubeconfig: string;
  /** Runs kubectl as the admin against this API server; rejects with kubectl's stderr. */
  kubectl(args: string[], input?: string): Promise<string>;
  /**
   * A folder laid out like a pod's /var/run/secrets/kubernetes.io/serviceaccount: a `token` for the
   * ServiceAccount (TokenRequest, as `kubectl create token` asks for it), `ca.crt` and `namespace`.
   */
  serviceAccountDir(namespace: string, serviceAccount: string): Promise<string>;
  /**
   * Discards etcd's history up to now: a watch resuming from an older resourceVersion then gets 410 Gone, as in a
   * cluster that compacted while a client was away.
   */
  compactEtcd(): Promise<void>;
  /** Kills the API server only (etcd keeps the data), as a crash. */
  stopApiServer(): Promise<void>;
  /** Starts it again on the same port. */
  startApiServer(): Promise<void>;
  /** Stops both and removes the folder. */
  stop(): Promise<void>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a serving certificate for 127.0.0.1 and localhost, and the service-account key pair. */
function makeCertificates(dir: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-subj',
    '/CN=kvflow-test-ca',
    '-days',
    '2',
    '-out',
    'ca.crt',
  ]);
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'apiserver.key']);
  openssl(dir, [
    'req',
    '-new',
    '-key',
    'apiserver.key',
    '-subj',
    '/CN=kube-apiserver',
    '-out',
    'apiserver.csr',
  ]);
  writeFileSync(
    join(dir, 'apiserver.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n',
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'apiserver.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'apiserver.ext',
    '-out',
    'apiserver.crt',
  ]);
  openssl(dir, ['genrsa', '-out', 'sa.key', '2048']);
  openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

function get(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function stopChild(
  child: ChildProcess | null,
  graceMs = 10_000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill(signal);
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, log: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines of ${log}:\n${tail(log)}`);
}

export async function startKubeApiServer(opts: { timeoutMs?: number } = {}): Promise<KubeApiServer> {
  const bin = requireKubeBinaries();
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-kube-'));
  const [etcdPort, peerPort, port] = [await freePort(), await freePort(), await freePort()];
  const adminToken = `admin-${Math.random().toString(36).slice(2)}`;
  makeCertificates(dir);
  writeFileSync(
    join(dir, 'tokens.csv'),
    `${adminToken},kvflow-test-admin,kvflow-test-admin,"system:masters"\n`,
  );
  const url = `https://127.0.0.1:${port}`;
  const caFile = join(dir, 'ca.crt');
  const ca = readFileSync(caFile);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: url, 'certificate-authority': caFile } }],
      users: [{ name: 'admin', user: { token: adminToken } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
      'current-context': 'test',
    }),
  );

  const etcdLog = join(dir, 'etcd.log');
  const etcdOut = openSync(etcdLog, 'a');
  const etcd = spawn(
    bin.etcd,
    [
      '--name',
      'default',
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `default=http://127.0.0.1:${peerPort}`,
    ],
    { stdio: ['ignore', etcdOut, etcdOut] },
  );
  let apiserver: ChildProcess | null = null;
  const apiLog = join(dir, 'kube-apiserver.log');
  const stopAll = async () => {
    await stopChild(apiserver);
    await stopChild(etcd);
    rmSync(dir, { recursive: true, force: true });
  };

  const startApiServer = async () => {
    const out = openSync(apiLog, 'a');
    const child = spawn(
      bin['kube-apiserver'],
      [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
        `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/24',
        // One API server, no nodes: nothing to reconcile, and no flow-control bookkeeping on a 2-core machine.
        '--endpoint-reconciler-type=none',
        '--enable-priority-and-fairness=false',
      ],
      { stdio: ['ignore', out, out] },
    );
    apiserver = child;
    const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(false)));
    await waitFor(
      'kube-apiserver /readyz (RBAC bootstrap included)',
      async () => {
        if (child.exitCode !== null) throw new Error('exited');
        const r = await Promise.race([get(`${url}/readyz`, ca, adminToken), exited.then(() => null)]);
        if (r === null) throw new Error(`kube-apiserver exited; last lines of ${apiLog}:\n${tail(apiLog)}`);
        return r.status === 200 && r.body.trim() === 'ok';
      },
      apiLog,
      timeoutMs,
    ).catch(async (err) => {
      await stopAll();
      throw err;
    });
  };

  try {
    await waitFor(
      'etcd',
      async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok,
      etcdLog,
      timeoutMs,
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  await startApiServer();

  const kubectl = (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(
        bin.kubectl,
        [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, 'kubectl-cache')}`, ...args],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '', HOME: dir },
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0
          ? resolve(out)
          : reject(new Error(`kubectl ${args.join(' ')} failed (${code}): ${err.trim()}`)),
      );
      child.stdin.end(input ?? '');
    });

  return {
    url,
    port,
    caFile,
    kubeconfig,
    kubectl,
    serviceAccountDir: async (namespace, serviceAccount) => {
      const token = (
        await kubectl(['-n', namespace, 'create', 'token', serviceAccount, '--duration=1h'])
      ).trim();
      const sa = join(dir, 'serviceaccounts', namespace, serviceAccount);
      mkdirSync(sa, { recursive: true });
      writeFileSync(join(sa, 'token'), token);
      writeFileSync(join(sa, 'ca.crt'), ca);
      writeFileSync(join(sa, 'namespace'), namespace);
      return sa;
    },
    compactEtcd: async () => {
      // etcd's JSON gateway: the current revision, then a physical compaction up to it.
      const etcdApi = (path: string, body: unknown) =>
        fetch(`http://127.0.0.1:${etcdPort}/v3/${path}`, { method: 'POST', body: JSON.stringify(body) }).then(
          (r) => r.json() as Promise<{ header?: { revision?: string } }>,
        );
      const { header } = await etcdApi('kv/range', { key: Buffer.from('/').toString('base64') });
      if (!header?.revision) throw new Error('etcd did not say its revision');
      await etcdApi('kv/compaction', { revision: header.revision, physical: true });
    },
    stopApiServer: () => stopChild(apiserver, 10_000, 'SIGKILL'),
    startApiServer,
    stop: stopAll,
  };
}
