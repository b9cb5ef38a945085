import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Real servers for tests: a JetStream-enabled nats-server and a redis-server, on free loopback ports. */

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

function findBinary(name: string, envVar: string): string {
  const configured = process.env[envVar];
  if (configured) return configured;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      `${name} not found on PATH (or set ${envVar}). Install it with: bash scripts/install-servers.sh`,
    );
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

function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export interface NatsServer {
  url: string;
  monitorUrl: string;
  port: number;
  stop(): Promise<void>;
  /** Stops the server but keeps its store, so start() brings the same streams back. */
  pause(): Promise<void>;
  start(): Promise<void>;
}

export async function startNats(): Promise<NatsServer> {
  const bin = findBinary('nats-server', 'NATS_SERVER_BIN');
  const storeDir = mkdtempSync(join(tmpdir(), 'kvflow-nats-'));
  const port = await freePort();
  const monitorPort = await freePort();
  let child: ChildProcess | null = null;
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const start = async () => {
    child = spawn(
      bin,
      ['-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-sd', storeDir],
      {
        stdio: 'ignore',
      },
    );
    await waitFor('nats-server', async () => (await fetch(`${monitorUrl}/healthz?js-enabled-only=true`)).ok);
  };
  await start();
  const pause = async () => {
    if (child) await stopProcess(child);
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    monitorUrl,
    port,
    start,
    pause,
    stop: async () => {
      await pause();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const bin = findBinary('redis-server', 'REDIS_SERVER_BIN');
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitFor('redis-server', async () => {
      const { Redis } = await import('ioredis');
      const r = new Redis(port, '127.0.0.1', {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => undefined); // refused while the server starts: expected
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: async () => {
      if (child) await stopProcess(child);
    },
  };
}
