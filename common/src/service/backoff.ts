/**
 * The one retry delay of kvflow: `baseMs` doubled for every further attempt, capped at `maxMs`. `attempt` counts
 * from 1 (the first retry waits `baseMs`). Used for connection retries, pull failures, nak delays and restarts.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(baseMs * 2 ** exponent, maxMs);
}
