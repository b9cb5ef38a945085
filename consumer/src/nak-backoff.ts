/** Delay before a failed event is redelivered: doubles with each delivery, capped. */
export function nakDelayMs(deliveryCount: number, baseMs: number, maxMs: number): number {
  const exponent = Math.max(0, Math.min(deliveryCount - 1, 30));
  return Math.min(baseMs * 2 ** exponent, maxMs);
}
