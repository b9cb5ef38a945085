/**
 * One write at idle, read back with `?min_seq=`: how long until a worker applied it, from no worker running. The
 * answer (200, or 409 not_yet_applied when the wait ran out) and the time are what a user sees after one `curl`.
 */
export interface SingleWrite {
  at_s: number;
  key: string;
  seq: number;
  /** Status of the read-back: 200 once applied. */
  status: number;
  /** Milliseconds from the write's 202 to the read-back's answer. */
  applied_ms: number;
  workers_before: number;
}

export async function writeAndReadBack(input: {
  producerPort: number;
  headers: Record<string, string>;
  key: string;
  at: number;
  workersBefore: number;
  /** How long the read-back waits at most (the API's wait_ms; its maximum is 10 s). */
  waitMs?: number;
}): Promise<SingleWrite> {
  const base = `http://127.0.0.1:${input.producerPort}/keys/${encodeURIComponent(input.key)}`;
  const put = await fetch(base, {
    method: 'PUT',
    headers: { ...input.headers, 'content-type': 'text/plain' },
    body: `written at ${input.at.toFixed(1)} s`,
  });
  if (put.status !== 202) throw new Error(`PUT ${input.key} answered ${put.status}: ${await put.text()}`);
  const { seq } = (await put.json()) as { seq: number };
  const started = performance.now();
  const read = await fetch(`${base}?min_seq=${seq}&wait_ms=${input.waitMs ?? 10_000}`, {
    headers: input.headers,
  });
  await read.arrayBuffer();
  return {
    at_s: Math.round(input.at * 10) / 10,
    key: input.key,
    seq,
    status: read.status,
    applied_ms: Math.round(performance.now() - started),
    workers_before: input.workersBefore,
  };
}
