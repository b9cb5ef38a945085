import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type Logger } from '@kvflow/common';
import { parseConfigMapList, parseWatchLine, splitLines } from './rate-configmap-events.js';
import type { RateConfigMapSettings } from './settings.js';

/**
 * A watch on ONE ConfigMap through the Kubernetes API, with Node's https (no client library): list it by
 * fieldSelector for the resourceVersion, then `watch=true&resourceVersion=…&allowWatchBookmarks=true`; list again
 * on 410 Gone; reconnect with the project's backoff on any other error. The token and CA are read from the
 * service-account folder on every connection (projected tokens rotate).
 */

export interface ConfigMapWatchHandlers {
  /** The ConfigMap's data, on the first list and on every change. */
  onData(data: Record<string, string>, resourceVersion: string): void;
  /** The ConfigMap does not exist (listed empty, or deleted). */
  onMissing(): void;
  /** The watch is established (true) or reconnecting (false, with the reason). */
  onUp(up: boolean, reason?: string): void;
}

export interface ConfigMapWatchOptions {
  settings: RateConfigMapSettings;
  log: Logger;
  backoff?: { baseMs: number; maxMs: number };
  /** The API server ends each watch after this long; the client resumes from the last resourceVersion. */
  timeoutSeconds?: number;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`HTTP ${status}: ${message}`);
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      body += c;
    });
    res.on('end', () => resolve(body));
    res.on('error', reject);
  });
}

async function failure(res: IncomingMessage): Promise<ApiError> {
  const body = await readBody(res).catch(() => '');
  let message = body.slice(0, 300);
  try {
    message = String((JSON.parse(body) as { message?: string }).message ?? message);
  } catch {}
  return new ApiError(res.statusCode ?? 0, message);
}

export function watchConfigMap(
  o: ConfigMapWatchOptions,
  h: ConfigMapWatchHandlers,
): { stop(): Promise<void> } {
  const { settings: s, log } = o;
  const { baseMs, maxMs } = o.backoff ?? { baseMs: 500, maxMs: 30_000 };
  const timeoutSeconds = o.timeoutSeconds ?? 300;
  const abort = new AbortController();
  const url = `${s.apiServer}/api/v1/namespaces/${encodeURIComponent(s.namespace)}/configmaps?fieldSelector=${encodeURIComponent(`metadata.name=${s.name}`)}`;
  let up = false;
  let attempt = 0;
  const setUp = (next: boolean, reason?: string) => {
    if (next === up) return;
    up = next;
    if (next) attempt = 0;
    h.onUp(next, reason);
  };

  const open = (query: string) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const token = readFileSync(join(s.serviceAccountDir, 'token'), 'utf8').trim();
      const ca = readFileSync(join(s.serviceAccountDir, 'ca.crt'));
      const req = request(
        `${url}${query}`,
        {
          headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
          ca,
          signal: abort.signal,
          // Idle socket: the server ends a watch after timeoutSeconds, so silence past that means a dead connection.
          timeout: (timeoutSeconds + 30) * 1000,
        },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error('the API server went silent')));
      req.on('error', reject);
      req.end();
    });

  /** Streams one watch; resolves 'gone' (list again) or 'ended' (resume from the last resourceVersion). */
  const watchOnce = async (from: string, moved: (rv: string) => void): Promise<'gone' | 'ended'> => {
    const res = await open(
      `&watch=true&resourceVersion=${encodeURIComponent(from)}&allowWatchBookmarks=true&timeoutSeconds=${timeoutSeconds}`,
    );
    if (res.statusCode === 410) {
      res.resume();
      return 'gone';
    }
    if (res.statusCode !== 200) throw await failure(res);
    setUp(true);
    return new Promise((resolve, reject) => {
      let rest = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const split = splitLines(rest, chunk);
        rest = split.rest;
        for (const line of split.lines) {
          const step = parseWatchLine(line);
          if (step.kind === 'gone') {
            res.destroy();
            return resolve('gone');
          }
          if (step.kind === 'error') {
            res.destroy();
            return reject(new ApiError(step.code, step.message));
          }
          if (step.kind === 'unreadable') {
            log.warn({ problem: step.message }, 'unreadable rate ConfigMap watch event ignored');
            continue;
          }
          moved(step.resourceVersion);
          try {
            if (step.kind === 'data') h.onData(step.data, step.resourceVersion);
            if (step.kind === 'deleted') h.onMissing();
          } catch (err) {
            res.destroy();
            return reject(err);
          }
        }
      });
      res.on('end', () => resolve('ended'));
      res.on('error', (err) => reject(new Error(`watch connection lost (${err.message})`)));
      res.on('close', () => (res.complete ? resolve('ended') : reject(new Error('watch connection closed'))));
    });
  };

  const running = (async () => {
    let rv: string | undefined;
    while (!abort.signal.aborted) {
      try {
        if (rv === undefined) {
          const res = await open('');
          if (res.statusCode !== 200) throw await failure(res);
          const list = parseConfigMapList(JSON.parse(await readBody(res)));
          rv = list.resourceVersion;
          if (list.configMap) h.onData(list.configMap.data, list.configMap.resourceVersion);
          else h.onMissing();
        }
        const opened = performance.now();
        const outcome = await watchOnce(rv, (v) => (rv = v));
        if (outcome === 'gone') {
          log.info({ resourceVersion: rv }, 'rate ConfigMap watch expired (410 Gone): listing again');
          rv = undefined;
        } else if (performance.now() - opened < 1_000) {
          // A watch the server ends at once (a proxy in the way?) must not become a busy loop.
          throw new Error('the API server ended the watch at once');
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        attempt += 1;
        const delay = backoffMs(attempt, baseMs, maxMs);
        const reason = (err as Error).message;
        setUp(false, reason);
        log.warn({ err: reason, attempt, retryInMs: delay }, 'rate ConfigMap watch failed; reconnecting');
        if (err instanceof ApiError && err.status === 410) rv = undefined;
        await sleep(delay, undefined, { signal: abort.signal }).catch(() => undefined);
      }
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}
