import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starting real nats-server and redis-server processes: used by the one-machine stack, the tests and the
 * benchmark, so all three run the servers the same way.
 */

export const INSTALL_HINT =
  'install them with: bash scripts/install-servers.sh (Debian/Ubuntu; needs apt and Go)';

type Binary = 'nats-server' | 'redis-server' | 'redis-cli' | 'jaeger';
const OVERRIDES: Record<Binary, string> = {
  'nats-server': 'NATS_SERVER_BIN',
  'redis-server': 'REDIS_SERVER_BIN',
  'redis-cli': 'REDIS_CLI_BIN',
  jaeger: 'JAEGER_BIN',
};
const HINTS: Partial<Record<Binary, string>> = {
  jaeger: 'install it with: bash scripts/install-test-tools.sh (needs Go)',
};

/** Finds a server binary: the env override, PATH, then where `go install` puts it. */
export function findBinary(name: Binary): string | null {
  const override = process.env[OVERRIDES[name]];
  if (override) return existsSync(override) ? override : null;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    const candidates = [
      join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', name),
      `/usr/local/bin/${name}`,
    ];
    return candidates.find((c) => existsSync(c)) ?? null;
  }
}

export function requireBinary(name: Binary): string {
  const bin = findBinary(name);
  if (!bin) throw new Error(`${name} not found on PATH; ${HINTS[name] ?? INSTALL_HINT}`);
  return bin;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A server process that exited before it was ready (its port taken since it was picked, most often). */
export class ServerExitedError extends Error {
  constructor(server: string, how: number | string | null, logFile?: string) {
    super(`${server} exited (${how}) before it was ready${logFile ? `; its log: ${logFile}` : ''}`);
    this.name = 'ServerExitedError';
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Waits until `check` passes for the server `proc` runs. Fails at once if the process exits meanwhile (its port
 * taken since it was picked, most often: a check could otherwise pass against whichever server took it), and stops
 * the process if it never gets ready.
 */
export async function untilReady(
  proc: ChildProcess,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
  logFile?: string,
): Promise<void> {
  let onExit: ((code: number | null, signal: string | null) => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    onExit = (code, signal) => reject(new ServerExitedError(what, signal ?? code, logFile));
    proc.once('exit', onExit);
  });
  try {
    await Promise.race([waitFor(what, check, timeoutMs), exited]);
  } catch (err) {
    await stopChild(proc);
    throw err;
  } finally {
    if (onExit) proc.off('exit', onExit);
  }
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface ServerProcess {
  url: string;
  port: number;
  /** Stops the process (the data directory stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
}

export interface NatsProcess extends ServerProcess {
  monitorUrl: string;
  monitorPort: number;
  /** SIGKILL, as a crash: no clean shutdown. */
  kill(): Promise<void>;
}

export function outputTo(logFile: string | undefined): 'ignore' | number {
  return logFile ? openSync(logFile, 'a') : 'ignore';
}

export async function startNatsServer(opts: {
  port: number;
  monitorPort: number;
  storeDir: string;
  logFile?: string;
  /** Join a JetStream cluster: this server's name, the cluster's name, its route port and its peers' ones. */
  cluster?: { serverName: string; name: string; routePort: number; peerRoutePorts: number[] };
}): Promise<NatsProcess> {
  const bin = requireBinary('nats-server');
  mkdirSync(opts.storeDir, { recursive: true });
  const monitorUrl = `http://127.0.0.1:${opts.monitorPort}`;
  let child: ChildProcess | null = null;
  const start = async () => {
    const args = [
      '-js',
      '-a',
      '127.0.0.1',
      '-p',
      String(opts.port),
      '-m',
      String(opts.monitorPort),
      '-sd',
      opts.storeDir,
    ];
    const c = opts.cluster;
    if (c) {
      args.push(
        '--name',
        c.serverName,
        '--cluster_name',
        c.name,
        '--cluster',
        `nats://127.0.0.1:${c.routePort}`,
      );
      args.push('--routes', c.peerRoutePorts.map((p) => `nats://127.0.0.1:${p}`).join(','));
    }
    const out = outputTo(opts.logFile);
    const proc = spawn(bin, args, { stdio: ['ignore', out, out] });
    child = proc;
    // A clustered server is healthy once it has joined JetStream's meta group; a single one once JetStream runs.
    const health = opts.cluster ? '/healthz' : '/healthz?js-enabled-only=true';
    await untilReady(
      proc,
      'nats-server',
      async () => (await fetch(`${monitorUrl}${health}`)).ok,
      opts.cluster ? 30_000 : 15_000,
      opts.logFile,
    );
  };
  await start();
  return {
    url: `nats://127.0.0.1:${opts.port}`,
    port: opts.port,
    monitorUrl,
    monitorPort: opts.monitorPort,
    start,
    stop: async () => {
      if (child) await stopChild(child);
    },
    kill: async () => {
      const c = child as ChildProcess | null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
  };
}

async function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startRedisServer(opts: {
  port: number;
  /** Directory for the append-only file; omit for a throwaway in-memory server. */
  dataDir?: string;
  logFile?: string;
}): Promise<ServerProcess> {
  const bin = requireBinary('redis-server');
  let child: ChildProcess | null = null;
  const persistence = opts.dataDir
    ? ['--dir', opts.dataDir, '--appendonly', 'yes', '--save', '']
    : ['--appendonly', 'no', '--save', ''];
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  const start = async () => {
    const out = outputTo(opts.logFile);
    const proc = spawn(bin, ['--port', String(opts.port), '--bind', '127.0.0.1', ...persistence], {
      stdio: ['ignore', out, out],
    });
    child = proc;
    await untilReady(proc, 'redis-server', () => redisPing(opts.port), undefined, opts.logFile);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${opts.port}`,
    port: opts.port,
    start,
    stop: async () => {
      if (child) await stopChild(child);
    },
  };
}

/** Runs `redis-cli` against one local server and returns its output (a failure or an error reply throws). */
export async function redisCli(port: number, args: string[], timeoutMs = 30_000): Promise<string> {
  const bin = requireBinary('redis-cli');
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      ['-h', '127.0.0.1', '-p', String(port), ...args],
      { timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err || /^(ERR|\[ERR\])/m.test(stdout))
          reject(
            new Error(
              `redis-cli -p ${port} ${args.join(' ')} failed: ${err?.message ?? ''}${stdout}${stderr}`,
            ),
          );
        else resolve(stdout);
      },
    );
  });
}

export interface RedisClusterNodeProcess extends ServerProcess {
  /** SIGKILL, as a crash. A later start() comes back with the node's identity (nodes.conf) and no data. */
  kill(): Promise<void>;
  /** Whether the process is running. */
  readonly running: boolean;
}

/**
 * One `redis-server --cluster-enabled yes` without persistence: its data lives in memory only, its cluster
 * identity and view (nodes.conf) in `dir`. The bus port is given explicitly (the default, port + 10000, may not be
 * free or even valid for a random port).
 */
export async function startRedisClusterNode(opts: {
  port: number;
  busPort: number;
  dir: string;
  /** How long a master may be unreachable before its replica takes over. */
  nodeTimeoutMs: number;
  logFile?: string;
}): Promise<RedisClusterNodeProcess> {
  const bin = requireBinary('redis-server');
  mkdirSync(opts.dir, { recursive: true });
  let child: ChildProcess | null = null;
  const alive = () => child !== null && child.exitCode === null && child.signalCode === null;
  const start = async () => {
    const out = outputTo(opts.logFile);
    const args = [
      '--port',
      String(opts.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      opts.dir,
      '--appendonly',
      'no',
      '--save',
      '',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-port',
      String(opts.busPort),
      '--cluster-node-timeout',
      String(opts.nodeTimeoutMs),
    ];
    const proc = spawn(bin, args, { stdio: ['ignore', out, out] });
    child = proc;
    await untilReady(
      proc,
      'redis-server (cluster node)',
      () => redisPing(opts.port),
      undefined,
      opts.logFile,
    );
  };
  await start();
  return {
    url: `redis://127.0.0.1:${opts.port}`,
    port: opts.port,
    get running() {
      return alive();
    },
    start,
    stop: async () => {
      if (child) await stopChild(child);
    },
    kill: async () => {
      const c = child as ChildProcess | null;
      if (!c || !alive()) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
  };
}
