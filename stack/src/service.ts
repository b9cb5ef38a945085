import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { nodeFlagsFor } from '@kvflow/common';
import type { MemoryCgroup } from './memory-cgroup.js';
import { ROOT } from './root.js';

export interface ServiceOptions {
  /** What logs and messages call it; the entry's package by default (`consumer`). */
  name?: string;
  /** Command-line arguments after the entry. */
  args?: string[];
  /** Appends the service's stdout and stderr to this file. */
  logFile?: string;
  /** Keeps the service's output in memory for `output()` (tests read it; a long demo run would not want it). */
  captureOutput?: boolean;
  /** Each line the service writes to stdout. */
  onLine?: (line: string) => void;
  /**
   * Opens an IPC channel to the service (`process.send` in the child) and gets each message it sends. Every
   * message arrives before `exited` resolves.
   */
  onMessage?: (message: unknown) => void;
  /** Runs the service inside this memory cgroup (the pod's memory limit). */
  cgroup?: MemoryCgroup;
}

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** Resolves after the process exited and its output and IPC channel closed. */
  exited: Promise<ServiceExit>;
  /** What the service wrote so far (with `captureOutput`; empty otherwise). */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; the exit code. */
  stop(graceMs: number): Promise<number | null>;
}

/**
 * Runs a built kvflow entry point (`consumer/dist/main.js`, …) as its own process, as in production: the Node flags
 * its role runs with, the environment given (and nothing else), its output to a log file, to memory or to a line
 * callback. The one launcher the demo, the benchmark and the tests start services with.
 */
export function launchService(
  entry: string,
  env: Record<string, string | undefined>,
  o: ServiceOptions = {},
): ServiceProcess {
  const name = o.name ?? basename(dirname(dirname(resolve(ROOT, entry))));
  const argv = [process.execPath, ...nodeFlagsFor(entry), resolve(ROOT, entry), ...(o.args ?? [])];
  const { command, args } = o.cgroup
    ? o.cgroup.wrap(argv)
    : { command: argv[0] as string, args: argv.slice(1) };
  const child = spawn(command, args, {
    env,
    stdio: o.onMessage ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (o.logFile) {
    const log = createWriteStream(o.logFile, { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
  }
  let out = '';
  if (o.captureOutput) {
    const keep = (d: Buffer) => {
      out += d.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }
  if (o.onLine) createInterface({ input: child.stdout as Readable }).on('line', o.onLine);
  if (o.onMessage) child.on('message', o.onMessage);
  // 'close', not 'exit': it comes after the output and the IPC channel are closed, so after the last message.
  const exited = new Promise<ServiceExit>((done) =>
    child.once('close', (code, signal) => done({ code, signal })),
  );
  return {
    name,
    child,
    exited,
    output: () => out,
    stop: async (graceMs) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const { code } = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

/**
 * Why a service stopped, from the end of its log: the last fatal or error line pino wrote (its `err`, else its
 * `msg`), or else the last plain lines (a configuration error is plain text on stderr).
 */
export function lastError(logFile: string): string | undefined {
  let text: string;
  try {
    const size = statSync(logFile).size;
    const fd = openSync(logFile, 'r');
    try {
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, size - length);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const plain: string[] = [];
  for (const line of lines.reverse()) {
    let entry: { level?: unknown; err?: unknown; msg?: unknown } | undefined;
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      entry = undefined;
    }
    if (entry === undefined || typeof entry !== 'object' || entry === null) {
      plain.unshift(line.trim());
      if (plain.length === 4) break;
      continue;
    }
    if (plain.length > 0) break;
    if (typeof entry.level === 'number' && entry.level >= 50) {
      const err = entry.err;
      const detail =
        typeof err === 'string'
          ? err
          : typeof err === 'object' && err !== null && 'message' in err
            ? String((err as { message: unknown }).message)
            : undefined;
      return [entry.msg, detail].filter((s) => typeof s === 'string' && s !== '').join(': ');
    }
  }
  return plain.length > 0 ? plain.join(' ') : undefined;
}
