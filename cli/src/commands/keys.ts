import { type KvEvent, keyProblem, newEventId, readValue, valueProblem } from '@kvflow/common';
import { Publisher } from '@kvflow/producer';
import { jetstream } from '@nats-io/jetstream';
import { type CliContext, CliError, EXIT } from '../context.js';

function checkKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new CliError(`bad key: ${problem}`, EXIT.usage);
}

export async function getKey(ctx: CliContext, key: string): Promise<string> {
  checkKey(key);
  const value = await readValue(await ctx.redisClient(), key);
  if (value === null) throw new CliError(`key ${JSON.stringify(key)} not found`, EXIT.notFound);
  return value;
}

/** Publishes one write through the same path as the API; returns the stream sequence. */
export async function writeKey(ctx: CliContext, key: string, value: string | null): Promise<number> {
  checkKey(key);
  if (value !== null) {
    const problem = valueProblem(value, ctx.stream.valueMaxBytes);
    if (problem) throw new CliError(`bad value: ${problem}`, EXIT.usage);
  }
  const base = { v: 1 as const, id: newEventId(), key, ts: Date.now(), src: 'cli' as const };
  const event: KvEvent = value === null ? { ...base, op: 'del' } : { ...base, op: 'set', value };
  const nc = await ctx.nats();
  const publisher = new Publisher(nc, jetstream(nc), {
    subject: ctx.stream.subject,
    maxInFlight: 1,
    timeoutMs: 5_000,
    retries: 3,
  });
  return (await publisher.publish(event)).seq;
}
