import type { ListWatch, V1ConfigMap } from '@kubernetes/client-node';
import { backoffMs, type Logger } from '@kvflow/common';
import { guardWatch } from './rate-configmap-guarded-watch.js';
import { abortable, describeError, type K8s, kubeConfigFor } from './rate-configmap-kube.js';
import type { RateConfigMapSettings } from './settings.js';

/**
 * A watch on ONE ConfigMap with @kubernetes/client-node's informer (ListWatch, fieldSelector metadata.name=…):
 * it lists, watches from the list's resourceVersion, and lists again on 410 Gone by itself. On any other error
 * it stops; it is started again here after the project's backoff, resuming from the last resourceVersion.
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
  /** The API server ends each watch after this long; the informer resumes from the last resourceVersion. */
  timeoutSeconds?: number;
}

const LIST_TIMEOUT_MS = 30_000;

export function watchConfigMap(
  o: ConfigMapWatchOptions,
  h: ConfigMapWatchHandlers,
): { stop(): Promise<void> } {
  const { settings: s, log } = o;
  const { baseMs, maxMs } = o.backoff ?? { baseMs: 500, maxMs: 30_000 };
  const timeoutSeconds = o.timeoutSeconds ?? 300;
  const where = { configMap: `${s.namespace}/${s.name}` };
  const stopping = new AbortController();
  let retry: NodeJS.Timeout | undefined;
  let up = false;
  let attempt = 0;
  const setUp = (next: boolean, reason?: string) => {
    if (next === up) return;
    up = next;
    if (next) attempt = 0;
    h.onUp(next, reason);
  };
  // The informer calls these inside its stream and list handling, where a throw is lost or unhandled.
  const safely = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.error({ ...where, err: (err as Error).message }, `rate ConfigMap ${what} failed`);
    }
  };

  const start = (k8s: K8s): ListWatch<V1ConfigMap> => {
    const kc = kubeConfigFor(k8s, s);
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const fieldSelector = `metadata.name=${s.name}`;
    const listOptions = {
      middleware: [abortable(k8s, stopping.signal, LIST_TIMEOUT_MS)],
      middlewareMergeStrategy: 'append' as const,
    };
    const watch = guardWatch(
      new k8s.Watch(kc),
      {
        signal: stopping.signal,
        onOpen: () => setUp(true),
        onGone: () => log.info(where, 'rate ConfigMap watch expired (410 Gone): listing again'),
      },
      timeoutSeconds,
    );
    const informer: ListWatch<V1ConfigMap> = new k8s.ListWatch(
      `/api/v1/namespaces/${encodeURIComponent(s.namespace)}/configmaps`,
      watch,
      async () => {
        const list = await api.listNamespacedConfigMap(
          { namespace: s.namespace, fieldSelector },
          listOptions,
        );
        // Listed empty and not cached (a cached one gets a delete event from the informer): nothing to follow.
        if (list.items.length === 0 && !informer.get(s.name, s.namespace))
          safely('onMissing', () => h.onMissing());
        return list;
      },
      false,
      undefined,
      fieldSelector,
    );
    const onObject = (cm: V1ConfigMap) =>
      safely('onData', () => h.onData(cm.data ?? {}, cm.metadata?.resourceVersion ?? ''));
    informer.on('add', onObject);
    informer.on('update', onObject);
    informer.on('delete', () => safely('onMissing', () => h.onMissing()));
    const restart = (err: unknown) => {
      if (stopping.signal.aborted) return;
      attempt += 1;
      const delay = backoffMs(attempt, baseMs, maxMs);
      const reason = describeError(k8s, err);
      setUp(false, reason);
      log.warn(
        { ...where, err: reason, attempt, retryInMs: delay },
        'rate ConfigMap watch failed; reconnecting',
      );
      retry = setTimeout(() => informer.start().catch(restart), delay);
    };
    informer.on('error', restart);
    informer.start().catch(restart);
    return informer;
  };

  // Lazy: a producer without RATE_CONFIGMAP skips 310-385 ms of import and +44 MiB RSS (107 -> 151; Node 24).
  const running = import('@kubernetes/client-node').then(
    (k8s) => (stopping.signal.aborted ? undefined : start(k8s)),
    (err: unknown) => {
      log.error(
        { ...where, err: (err as Error).message },
        'rate ConfigMap not followed: @kubernetes/client-node did not load',
      );
      return undefined;
    },
  );
  return {
    stop: async () => {
      stopping.abort();
      clearTimeout(retry);
      await (await running)?.stop();
    },
  };
}
