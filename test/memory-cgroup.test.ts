import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { makeMemoryCgroup, quantityBytes } from '@kvflow/stack';
import { describe, expect, it } from 'vitest';

const HEAP_LIMIT = "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit))";
const MiB = 2 ** 20;

describe('Kubernetes memory quantities', () => {
  it('reads binary and decimal suffixes', () => {
    expect(quantityBytes('256Mi')).toBe(256 * MiB);
    expect(quantityBytes('1Gi')).toBe(2 ** 30);
    expect(quantityBytes('512k')).toBe(512_000);
    expect(quantityBytes('1.5G')).toBe(1_500_000_000);
    expect(quantityBytes('134217728')).toBe(134_217_728);
  });

  it('refuses what is not one', () => {
    for (const bad of ['', 'Mi', '256MB', '-1Gi', '256 Mi x'])
      expect(() => quantityBytes(bad)).toThrow(/quantity/);
  });
});

// The benchmark measures the worker inside its pod's memory limit; root can make the cgroup (CI runs as root).
describe.runIf(process.getuid?.() === 0)('a memory cgroup, as a pod has', () => {
  it('makes Node size its heap from the limit, as in the pod, and is removed afterwards', () => {
    const cgroup = makeMemoryCgroup('test', 256 * MiB);
    if ('unavailable' in cgroup) throw new Error(cgroup.unavailable);
    try {
      const { command, args } = cgroup.wrap([process.execPath, '-e', HEAP_LIMIT]);
      const inside = Number(execFileSync(command, args, { encoding: 'utf8' }));
      const outside = Number(execFileSync(process.execPath, ['-e', HEAP_LIMIT], { encoding: 'utf8' }));
      // Node 24 in 256 MiB: a heap limit of about 259 MB; on the whole machine (24 GiB here) several GB.
      expect(inside).toBeLessThan(512 * MiB);
      expect(outside).toBeGreaterThan(inside * 2);
    } finally {
      cgroup.remove();
    }
    expect(existsSync(cgroup.path)).toBe(false);
  });
});
