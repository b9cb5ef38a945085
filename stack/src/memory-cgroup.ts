import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A memory cgroup with a limit, as a container runtime makes one for a pod's container. Node reads the limit at
 * start (libuv's constrained memory) and sizes its V8 heap from it, as it does in the pod: a process measured
 * without it runs with a heap sized for the whole machine, which no pod has.
 */
export interface MemoryCgroup {
  /** The cgroup's folder. */
  path: string;
  limitBytes: number;
  version: 1 | 2;
  /** `argv` run inside the cgroup: a shell that moves itself in, then becomes `argv` (same pid). */
  wrap(argv: readonly string[]): { command: string; args: string[] };
  /** Removes the cgroup (every process in it must have exited). */
  remove(): void;
}

const V2_ROOT = '/sys/fs/cgroup';
const V1_ROOT = '/sys/fs/cgroup/memory';

function v2HasMemory(): boolean {
  try {
    return readFileSync(join(V2_ROOT, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory');
  } catch {
    return false;
  }
}

/**
 * Makes `kvflow-<name>-<pid>` with `limitBytes` under the machine's cgroup v2 root (memory enabled for children) or
 * its v1 memory hierarchy. Answers why not where it cannot (no such hierarchy, or not root): the caller reports that
 * its figure was measured without a limit.
 */
export function makeMemoryCgroup(name: string, limitBytes: number): MemoryCgroup | { unavailable: string } {
  const dirName = `kvflow-${name}-${process.pid}`;
  let path: string;
  let version: 1 | 2;
  if (v2HasMemory()) {
    path = join(V2_ROOT, dirName);
    version = 2;
  } else if (existsSync(join(V1_ROOT, 'memory.limit_in_bytes'))) {
    path = join(V1_ROOT, dirName);
    version = 1;
  } else {
    return { unavailable: 'no memory cgroup hierarchy on this machine' };
  }
  try {
    mkdirSync(path);
    writeFileSync(join(path, version === 2 ? 'memory.max' : 'memory.limit_in_bytes'), String(limitBytes));
  } catch (err) {
    try {
      rmdirSync(path);
    } catch {
      // never made
    }
    return { unavailable: `cannot make a memory cgroup at ${path}: ${(err as Error).message}` };
  }
  return {
    path,
    limitBytes,
    version,
    wrap: (argv) => ({
      command: '/bin/sh',
      args: ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', path, ...argv],
    }),
    remove: () => rmdirSync(path),
  };
}

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
};

/** Bytes in a Kubernetes memory quantity (`256Mi`, `1G`, `134217728`). */
export function quantityBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(|k|M|G|Ki|Mi|Gi)$/.exec(quantity.trim());
  const unit = m ? UNITS[m[2] as string] : undefined;
  if (!m || unit === undefined) throw new Error(`not a memory quantity: ${JSON.stringify(quantity)}`);
  return Math.round(Number(m[1]) * unit);
}
