import { redisCli } from '@kvflow/stack';

/** The worker's log lines that open and close its one Redis recovery (consumer/src/worker.ts). */
export const PAUSED = 'redis apply failed; nak-ing batch and pausing pulls';
export const RESUMED = 'redis is back; resuming pulls';

/** The pid of the redis-server on `port`, as it reports it: SIGSTOP/SIGCONT freeze it like a hung host. */
export async function redisPid(port: number): Promise<number> {
  const info = await redisCli(port, ['info', 'server']);
  const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no process_id in INFO server of port ${port}`);
  return pid;
}

export function freeze(pid: number): void {
  process.kill(pid, 'SIGSTOP');
}

/** SIGCONT; a process that is gone already is fine (teardown calls this whatever happened). */
export function thaw(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export interface Recoveries {
  /** Recoveries started (PAUSED lines) and finished (RESUMED lines). */
  started: number;
  finished: number;
  /** True when every recovery finished before the next one started: one at a time. */
  oneAtATime: boolean;
}

/** Reads a worker's recoveries from its JSON log (the worker counts them, but exposes them only in its log). */
export function recoveries(output: string): Recoveries {
  let started = 0;
  let finished = 0;
  let oneAtATime = true;
  for (const line of output.split('\n')) {
    let msg: unknown;
    try {
      msg = (JSON.parse(line) as { msg?: unknown }).msg;
    } catch {
      continue;
    }
    if (msg === PAUSED) {
      if (started !== finished) oneAtATime = false;
      started++;
    } else if (msg === RESUMED) {
      if (started !== finished + 1) oneAtATime = false;
      finished++;
    }
  }
  return { started, finished, oneAtATime };
}
