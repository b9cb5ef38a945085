import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { ROOT } from '@kvflow/stack';
import { parse } from 'yaml';

/** The local node's files (local-k8s/lib.sh: K8S_HOME). */
export const K8S_HOME = process.env.KVFLOW_K8S_HOME ?? join(ROOT, '.kvflow/k8s');
export const KUBECONFIG = join(K8S_HOME, 'kubeconfig');

/** What the node's tools and the user's commands run with: the node's kubectl first on PATH, NO_COLOR for tasks. */
export function nodeEnv(): NodeJS.ProcessEnv {
  return { ...process.env, KUBECONFIG, PATH: `${join(K8S_HOME, 'bin')}:${process.env.PATH}`, NO_COLOR: '1' };
}

/** Runs a command to completion with its output shown live (long builds show progress); rejects on failure. */
export function runLive(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: nodeEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      process.stderr.write(chunk);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(
          new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out.slice(-4000)}`),
        );
    });
  });
}

/** kubectl against the node, synchronous; throws with its output on failure. */
export function kubectl(...args: string[]): string {
  const r = spawnSync('kubectl', args, { cwd: ROOT, env: nodeEnv(), encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`kubectl ${args.join(' ')}: ${r.stderr || r.stdout || r.error?.message}`);
  return r.stdout;
}

/** helm against the node (same KUBECONFIG), synchronous; throws with its output on failure. */
export function helm(...args: string[]): string {
  const r = spawnSync('helm', args, { cwd: ROOT, env: nodeEnv(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')}: ${r.stderr || r.stdout || r.error?.message}`);
  return r.stdout;
}

interface Credentials {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

let credentials: Credentials | undefined;
function creds(): Credentials {
  if (credentials) return credentials;
  const cfg = parse(readFileSync(KUBECONFIG, 'utf8')) as {
    clusters: Array<{ cluster: { server: string; 'certificate-authority': string } }>;
    users: Array<{ user: { 'client-certificate': string; 'client-key': string } }>;
  };
  const cluster = cfg.clusters[0]?.cluster;
  const user = cfg.users[0]?.user;
  if (!cluster || !user) throw new Error(`${KUBECONFIG} has no cluster or user`);
  credentials = {
    server: cluster.server,
    ca: readFileSync(cluster['certificate-authority']),
    cert: readFileSync(user['client-certificate']),
    key: readFileSync(user['client-key']),
  };
  return credentials;
}

/** GET an API path as the node's admin (a sampler calls this every second: no kubectl process per read). */
export function apiGet<T>(path: string): Promise<T> {
  const c = creds();
  return new Promise((resolve, reject) => {
    const req = request(
      `${c.server}${path}`,
      { ca: c.ca, cert: c.cert, key: c.key, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 300)
            reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 300)}`));
          else resolve(JSON.parse(body) as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Watches an API collection, calling `onEvent` for each event, until the returned stop() is called. */
export function apiWatch<T>(path: string, onEvent: (type: string, object: T) => void): () => void {
  const c = creds();
  const sep = path.includes('?') ? '&' : '?';
  const req = request(`${c.server}${path}${sep}watch=1`, { ca: c.ca, cert: c.cert, key: c.key }, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buffer += d;
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) {
          const e = JSON.parse(line) as { type: string; object: T };
          onEvent(e.type, e.object);
        }
        nl = buffer.indexOf('\n');
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return () => req.destroy();
}
