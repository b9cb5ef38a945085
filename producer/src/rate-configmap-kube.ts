import { join } from 'node:path';
import type { KubeConfig, ObservableMiddleware } from '@kubernetes/client-node';
import type { RateConfigMapSettings } from './settings.js';

/** The library's module, imported lazily by the follower (type only here: nothing is loaded by this file). */
export type K8s = typeof import('@kubernetes/client-node');

/**
 * The KubeConfig of a pod, from the settings (not ~/.kube, not the fixed /var/run/secrets path loadFromCluster
 * assumes): the CA file is read for every connection; the token file through the library's `tokenFile` auth,
 * which re-reads it when its copy is older than 60 s (as client-go does; the kubelet rotates a projected token
 * at 80% of its lifetime, so the old one stays valid far longer than that).
 */
export function kubeConfigFor(k8s: K8s, s: RateConfigMapSettings): KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromClusterAndUser(
    {
      name: 'in-cluster',
      server: s.apiServer,
      caFile: join(s.serviceAccountDir, 'ca.crt'),
      skipTLSVerify: false,
    },
    {
      name: 'service-account',
      authProvider: { name: 'tokenFile', config: { tokenFile: join(s.serviceAccountDir, 'token') } },
    },
  );
  return kc;
}

/** Aborts a request on `signal` or after `timeoutMs` (the generated API client has no timeout of its own). */
export function abortable(k8s: K8s, signal: AbortSignal, timeoutMs: number): ObservableMiddleware {
  return {
    pre: (ctx) => {
      ctx.setSignal(AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
      return new k8s.Observable(Promise.resolve(ctx));
    },
    post: (ctx) => new k8s.Observable(Promise.resolve(ctx)),
  };
}

/** A short reason for the log and the watch-down line: status and message, not the library's full dump. */
export function describeError(k8s: K8s, err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    let message = typeof body === 'string' ? body.slice(0, 300) : '';
    try {
      const parsed: unknown = typeof body === 'string' ? JSON.parse(body) : body;
      if (typeof parsed === 'object' && parsed !== null && 'message' in parsed)
        message = String(parsed.message);
    } catch {}
    return `HTTP ${err.code}: ${message}`;
  }
  if (!(err instanceof Error)) return String(err);
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? `HTTP ${status}: ${err.message}` : err.message;
}
