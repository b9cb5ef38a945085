import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEvent, type NatsConnection, newEvent, Publisher, type SpanSource } from '@kvflow/common';
import { dropStreams, publishAll, VALUE, withStream } from './streams.js';

/** Bytes of one benchmark event on the wire (the JSON body): nats bench publishes messages of the same size. */
export const EVENT_BYTES = encodeEvent(
  newEvent({ op: 'set', key: 'k1234', value: VALUE, src: 'generator' }),
).length;

/** kvflow's Publisher into a fresh stream (file storage, duplicate window on, `Nats-Msg-Id` on every event). */
export function kvflowPublish(nc: NatsConnection, n: number, tracing?: SpanSource): Promise<number> {
  return withStream(nc, (s) =>
    publishAll(
      new Publisher(nc, { subject: s.subject, maxInFlight: 1024, timeoutMs: 10_000, retries: 3, tracing }),
      n,
    ),
  );
}

/**
 * `nats bench js pub async --dedup` (natscli, Go's PublishAsync) against the same server, same message size, file
 * storage: the JetStream publishing limit on this machine.
 */
let rounds = 0;

export async function natsBench(nc: NatsConnection, url: string, n: number): Promise<number> {
  const stream = `NATSBENCH${++rounds}`;
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-natsbench-'));
  try {
    const csv = join(dir, 'out.csv');
    execFileSync(
      'nats',
      [
        'bench',
        'js',
        'pub',
        'async',
        `bench.natscli.${rounds}`,
        '--create',
        '--purge',
        '--dedup',
        '--storage=file',
        `--stream=${stream}`,
        `--size=${EVENT_BYTES}B`,
        `--msgs=${n}`,
        '--no-progress',
        `--csv=${csv}`,
        '-s',
        url,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 },
    );
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    const header = (rows[0] ?? '').replace(/^#/, '').split(',');
    const col = header.indexOf('MsgsPerSec');
    const value = Number((rows[1] ?? '').split(',')[col]);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`nats bench wrote no MsgsPerSec: ${rows.join(' | ')}`);
    return value;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dropStreams(nc, stream);
  }
}
