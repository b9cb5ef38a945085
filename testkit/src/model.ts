import { type KvEvent, newEvent } from '@kvflow/common';

/** The state the stream implies: events applied once each, in sequence order. */
export function modelState(bySeq: Map<number, KvEvent>): Map<string, string> {
  const state = new Map<string, string>();
  for (const seq of [...bySeq.keys()].sort((a, b) => a - b)) {
    const e = bySeq.get(seq) as KvEvent;
    if (e.op === 'set') state.set(e.key, e.value);
    else state.delete(e.key);
  }
  return state;
}

export function randomEvent(keySpace: number, src: KvEvent['src'] = 'generator'): KvEvent {
  const key = `k${Math.floor(Math.random() * keySpace)}`;
  return Math.random() < 0.1
    ? newEvent({ op: 'del', key, src })
    : newEvent({ op: 'set', key, value: `v${Math.random()}`, src });
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}
