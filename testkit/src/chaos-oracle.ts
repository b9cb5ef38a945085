import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from '@kvflow/stack';

/**
 * The black-box oracle of the fault tests: a load client that writes through the producer's HTTP API and records
 * every write the API accepted (202, with the stream sequence it answered). The expected state of a key is its
 * accepted write with the highest sequence; `verify()` reads every touched key back over the API.
 *
 * A 503 (or a request that got no answer) does not promise that the event was not stored: the publish may have
 * reached the stream after the producer gave up on it. Such writes are kept as "uncertain": a key may end on one
 * of them, but only if the stream stored it after the key's last accepted write, which `verify()` checks with
 * `?min_seq=` (the key's applied sequence must have reached the accepted write's).
 */

export type WriteOp = 'set' | 'del';

export interface RecordedWrite {
  key: string;
  op: WriteOp;
  /** The value written (unique per write); '' for a delete. */
  value: string;
  /** The stream sequence the API answered (accepted writes only). */
  seq: number;
}

export interface WriteCounts {
  sent: number;
  accepted: number;
  /** 503s: an outage may refuse writes, each with a Retry-After. */
  refused: number;
  refusedWithoutRetryAfter: number;
  /** Requests without an answer (connection error, client timeout): stored or not, nobody knows. */
  unanswered: number;
  /** Every answer other than 202 and 503 ("PUT k1 -> 500 {...}"): always a failure. */
  unexpected: string[];
}

export interface Verification {
  /** Keys read back. */
  keys: number;
  /** One line per key whose state is not what the accepted writes imply. */
  mismatches: string[];
  /** Keys that ended on an uncertain write (refused or unanswered, yet stored after the last accepted one). */
  uncertainWins: number;
}

export interface LoadPlan {
  /** Writes to send at most. */
  writes: number;
  /** Stop sending after this long, however many are left. */
  maxMs: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Writes per second at most (paced from the start of this load); unpaced when left out. */
  ratePerSec?: number;
  /** Checked before each write: true stops the load early. */
  until?: () => boolean;
}

export interface OracleOptions {
  /** The producer's base URL, e.g. http://127.0.0.1:8080. */
  api: string;
  /** Keys are `${keyPrefix}0` … `${keyPrefix}${keys - 1}`, taken in turn. */
  keyPrefix: string;
  keys: number;
  /** One write in `deleteEvery` is a DELETE. */
  deleteEvery?: number;
  /**
   * How long a request may take before it counts as unanswered. Longer than the producer's publish timeout and
   * retries, so that a slow outage answers 503 rather than leaving the write uncertain.
   */
  requestTimeoutMs?: number;
}

/** The stream sequence of a 202 body (`{"id", "seq", "duplicate"}`), or null if it has none. */
function acceptedSeq(body: string): number | null {
  try {
    const { seq } = JSON.parse(body) as { seq?: unknown };
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : null;
  } catch {
    return null;
  }
}

export class WriteOracle {
  private readonly latest = new Map<string, RecordedWrite>();
  private readonly uncertain = new Map<string, RecordedWrite[]>();
  private readonly touched = new Set<string>();
  private next = 0;
  private readonly c: WriteCounts = {
    sent: 0,
    accepted: 0,
    refused: 0,
    refusedWithoutRetryAfter: 0,
    unanswered: 0,
    unexpected: [],
  };

  constructor(private readonly o: OracleOptions) {}

  get counts(): Readonly<WriteCounts> {
    return this.c;
  }

  /** Per key, the accepted write with the highest sequence: the state the API promised. */
  expected(): ReadonlyMap<string, RecordedWrite> {
    return this.latest;
  }

  /** Keys whose last accepted write is a set (what a listing must show, if no uncertain write intervenes). */
  liveKeys(): string[] {
    return [...this.latest.values()].filter((w) => w.op === 'set').map((w) => w.key);
  }

  /** Writes until one is accepted (202) again, e.g. after an outage; fails after `timeoutMs`. */
  async untilAcceptedAgain(timeoutMs = 30_000): Promise<void> {
    await waitUntil(
      'a write accepted again',
      async () => {
        const before = this.counts.accepted;
        await this.write();
        return this.counts.accepted > before;
      },
      timeoutMs,
    );
  }

  /** Sends the next write (the next key in turn; a set, or every `deleteEvery`-th a delete) and records it. */
  async write(): Promise<void> {
    const i = this.next++;
    const key = `${this.o.keyPrefix}${i % this.o.keys}`;
    const op: WriteOp = this.o.deleteEvery && i % this.o.deleteEvery === 0 ? 'del' : 'set';
    const value = op === 'set' ? `${this.o.keyPrefix}-v${i}` : '';
    this.touched.add(key);
    this.c.sent++;
    let res: Response;
    try {
      res = await fetch(`${this.o.api}/keys/${encodeURIComponent(key)}`, {
        method: op === 'set' ? 'PUT' : 'DELETE',
        headers: op === 'set' ? { 'content-type': 'text/plain' } : {},
        body: op === 'set' ? value : undefined,
        signal: AbortSignal.timeout(this.o.requestTimeoutMs ?? 15_000),
      });
    } catch {
      this.c.unanswered++;
      this.addUncertain({ key, op, value, seq: 0 });
      return;
    }
    const body = await res.text().catch(() => '');
    const method = op === 'set' ? 'PUT' : 'DELETE';
    if (res.status === 202) {
      const seq = acceptedSeq(body);
      if (seq === null) {
        this.c.unexpected.push(`${method} ${key} -> 202 without a sequence: ${body.slice(0, 200)}`);
        return;
      }
      this.c.accepted++;
      const prev = this.latest.get(key);
      if (!prev || prev.seq < seq) this.latest.set(key, { key, op, value, seq });
    } else if (res.status === 503) {
      this.c.refused++;
      if (!res.headers.get('retry-after')) this.c.refusedWithoutRetryAfter++;
      this.addUncertain({ key, op, value, seq: 0 });
    } else {
      this.c.unexpected.push(`${method} ${key} -> ${res.status} ${body.slice(0, 200)}`);
    }
  }

  /** Sends up to `plan.writes` writes, `plan.concurrency` at a time, bounded in time (and paced, if asked). */
  async load(plan: LoadPlan): Promise<void> {
    const started = Date.now();
    const deadline = started + plan.maxMs;
    let issued = 0;
    const lane = async () => {
      for (;;) {
        if (issued >= plan.writes || Date.now() >= deadline || plan.until?.()) return;
        const n = issued++;
        if (plan.ratePerSec) {
          const due = started + (n * 1000) / plan.ratePerSec;
          if (due > Date.now()) await sleep(due - Date.now());
          if (Date.now() >= deadline) return;
        }
        await this.write();
      }
    };
    await Promise.all(Array.from({ length: plan.concurrency }, lane));
  }

  /**
   * Reads every touched key back over the API (call it once the workers have caught up). A key with an accepted
   * write is read with `?min_seq=<its seq>&wait_ms=0`: 409 means Redis has not reached that write (it is lost);
   * otherwise the value must be that write's, or an uncertain write's (stored later in the stream).
   */
  async verify(): Promise<Verification> {
    const mismatches: string[] = [];
    let uncertainWins = 0;
    for (const key of this.touched) {
      const want = this.latest.get(key);
      const maybe = this.uncertain.get(key) ?? [];
      const query = want ? `?min_seq=${want.seq}&wait_ms=0` : '';
      const res = await fetch(`${this.o.api}/keys/${encodeURIComponent(key)}${query}`, {
        signal: AbortSignal.timeout(10_000),
      });
      const body = await res.text();
      const got: Pick<RecordedWrite, 'op' | 'value'> | null =
        res.status === 200
          ? { op: 'set', value: body }
          : res.status === 404
            ? { op: 'del', value: '' }
            : null;
      const same = (w: Pick<RecordedWrite, 'op' | 'value'>) =>
        got !== null && w.op === got.op && w.value === got.value;
      // A key with no accepted write may also never have been stored at all.
      if (want ? same(want) : got?.op === 'del') continue;
      if (maybe.some(same)) {
        uncertainWins++;
        continue;
      }
      const wanted = want ? `${want.op} ${want.value} (seq ${want.seq})` : 'absent or an uncertain write';
      mismatches.push(`${key}: ${res.status} ${body.slice(0, 120)}; want ${wanted}`);
    }
    return { keys: this.touched.size, mismatches, uncertainWins };
  }

  private addUncertain(w: RecordedWrite): void {
    const list = this.uncertain.get(w.key);
    if (list) list.push(w);
    else this.uncertain.set(w.key, [w]);
  }
}
