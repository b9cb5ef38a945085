import type { Watch } from '@kubernetes/client-node';

/**
 * The library's Watch as the informer (ListWatch) uses it, with what it lacks for a long-lived follower: it tells
 * when the stream is open and when the server said 410 Gone (the informer then lists again by itself); it turns
 * into errors (so the follower backs off) an ERROR Status other than 410, a watch the server ends at once, and a
 * stream silent past the server's own timeout (a dead connection); a token or CA file that cannot be read becomes
 * an error too instead of an unhandled rejection inside the informer.
 */

export interface WatchHooks {
  /** The watch stream is open (HTTP 200). */
  onOpen(): void;
  /** 410 Gone, as the HTTP status or as an ERROR event: the informer lists again. */
  onGone(): void;
  /** Once aborted, no new connection is made (the follower stopped). */
  signal: AbortSignal;
}

type Done = Parameters<Watch['watch']>[3];

const statusOf = (err: unknown): unknown =>
  typeof err === 'object' && err !== null
    ? ((err as { statusCode?: unknown }).statusCode ?? (err as { code?: unknown }).code)
    : undefined;

export function guardWatch(inner: Watch, hooks: WatchHooks, timeoutSeconds: number): Watch {
  return {
    config: inner.config,
    async watch(path, query, callback, done: Done) {
      if (hooks.signal.aborted) return new AbortController();
      const opened = performance.now();
      let controller: AbortController | undefined;
      let finished = false;
      let gone = false;
      let failure: Error | undefined;
      const finish = (err: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(silence);
        let outcome = err ?? failure ?? null;
        // A watch the server ends at once (a proxy in the way?) must not become a busy loop.
        if (!outcome && !gone && performance.now() - opened < 1_000)
          outcome = new Error('the API server ended the watch at once');
        if (statusOf(outcome) === 410) hooks.onGone();
        done(outcome);
      };
      const silence = setTimeout(
        () => {
          finish(new Error('the API server went silent'));
          controller?.abort();
        },
        (timeoutSeconds + 30) * 1000,
      );
      const onEvent: typeof callback = (phase, object: unknown, event: unknown) => {
        if (phase === 'ERROR') {
          const status = (object ?? {}) as { code?: unknown; reason?: unknown; message?: unknown };
          if (status.code === 410) {
            gone = true;
            hooks.onGone();
          } else failure = new Error(`${String(status.reason ?? 'Error')}: ${String(status.message ?? '')}`);
        }
        callback(phase, object, event);
      };
      try {
        controller = await inner.watch(
          path,
          { ...query, allowWatchBookmarks: true, timeoutSeconds },
          onEvent,
          finish,
        );
      } catch (err) {
        finish(err);
        return new AbortController();
      }
      if (finished) controller.abort();
      else hooks.onOpen();
      return controller;
    },
  };
}
