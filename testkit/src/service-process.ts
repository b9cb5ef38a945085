import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { NODE_FLAGS, type ServiceRole } from '@kvflow/common';
import { ROOT } from './root.js';

export type Role = ServiceRole;

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs: number): Promise<number | null>;
}

export interface ServiceOptions {
  /** Each line the service writes to stdout. */
  onLine?: (line: string) => void;
  /**
   * Opens an IPC channel to the service (`process.send` in the child) and gets each message it sends. Every
   * message arrives before `exited` resolves.
   */
  onMessage?: (message: unknown) => void;
}

/** Starts a kvflow service as its own process, logging to `<logDir>/<name>.log`. */
export function startService(
  role: Role,
  name: string,
  env: Record<string, string>,
  logDir: string,
  options: ServiceOptions = {},
): ServiceProcess {
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, [...NODE_FLAGS[role], join(ROOT, role, 'dist/main.js')], {
    env: { ...process.env, ...env },
    stdio: options.onMessage ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  if (options.onLine) createInterface({ input: child.stdout as Readable }).on('line', options.onLine);
  if (options.onMessage) child.on('message', options.onMessage);
  // 'close', not 'exit': it comes after the output and the IPC channel are closed, so after the last message.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    name,
    child,
    exited,
    stop: async (graceMs) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}
