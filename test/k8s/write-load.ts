import { setTimeout as sleep } from 'node:timers/promises';
import { type Redis, readEntry } from '@kvflow/common';
import type { Disruption } from '../../demo/src/report/k8s-acceptance-report.js';

/** One write of the load, as its client saw it. */
export interface Write {
  key: string;
  value: string;
  /** Seconds since the load started, when the request was sent. */
  t: number;
  status: number | 'error';
  retryAfter: string | null;
  error?: string;
}

export interface WriteLoad {
  /** Stops sending, waits for the answers in flight, and returns every write. */
  stop(): Promise<Write[]>;
}

const IN_FLIGHT_MAX = 32;
const TIMEOUT_MS = 5000;

/**
 * Bounded write load through the producer's Service: `perSecond` PUTs of unique keys (prefix-i), at most `maxWrites`,
 * at most 32 in flight (a slower answer skips a tick rather than piling up). Each answer is kept for the summary.
 */
export function startWriteLoad(opts: {
  url: string;
  token: string;
  prefix: string;
  perSecond: number;
  maxWrites: number;
}): WriteLoad {
  const writes: Write[] = [];
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  let running = true;
  const send = (i: number) => {
    const key = `${opts.prefix}-${i}`;
    const value = `${opts.prefix} write ${i}`;
    const t = elapsed();
    const p = fetch(`${opts.url}/keys/${key}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'text/plain' },
      body: value,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        writes.push({ key, value, t, status: res.status, retryAfter: res.headers.get('retry-after') });
      })
      .catch((err: Error) => {
        writes.push({
          key,
          value,
          t,
          status: 'error',
          retryAfter: null,
          error: err.cause ? String(err.cause) : err.message,
        });
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const loop = (async () => {
    const interval = 1000 / opts.perSecond;
    for (let i = 0; running && i < opts.maxWrites; i++) {
      if (inFlight.size < IN_FLIGHT_MAX) send(i);
      await sleep(Math.max(0, started + (i + 1) * interval - performance.now()));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all(inFlight);
      return writes.sort((a, b) => a.t - b.t);
    },
  };
}

/** The summary of a load's answers; `false_202` needs Redis after the drain. */
export async function summarize(
  writes: Write[],
  redis: Redis,
): Promise<Omit<Disruption, 'lost' | 'pods_terminated' | 'pods_exit_0' | 'recovered_s'>> {
  let false202 = 0;
  for (const w of writes.filter((x) => x.status === 202))
    if ((await readEntry(redis, w.key)).value !== w.value) false202++;
  const other: Record<string, number> = {};
  for (const w of writes)
    if (w.status !== 202 && w.status !== 503) {
      const kind = w.status === 'error' ? `error: ${w.error}` : String(w.status);
      other[kind] = (other[kind] ?? 0) + 1;
    }
  return {
    false_202: false202,
    writes: writes.length,
    accepted_202: writes.filter((w) => w.status === 202).length,
    responses_503: writes.filter((w) => w.status === 503).length,
    responses_503_without_retry_after: writes.filter((w) => w.status === 503 && !w.retryAfter).length,
    max_503_s: longest503(writes),
    other,
  };
}

/** The longest time from a 503 to the next 202 (or to the end of the load). */
export function longest503(writes: Write[]): number {
  let longest = 0;
  let since: number | undefined;
  for (const w of writes) {
    if (w.status === 503) since ??= w.t;
    else if (w.status === 202 && since !== undefined) {
      longest = Math.max(longest, w.t - since);
      since = undefined;
    }
  }
  if (since !== undefined) longest = Math.max(longest, (writes.at(-1)?.t ?? since) - since);
  return Math.round(longest * 10) / 10;
}
