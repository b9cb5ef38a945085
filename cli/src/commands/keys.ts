import { keyProblem, newEvent, Publisher, readValue, valueProblem } from '@kvflow/common';
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
  const event =
    value === null
      ? newEvent({ op: 'del', key, src: 'cli' })
      : newEvent({ op: 'set', key, value, src: 'cli' });
  const nc = await ctx.nats();
  const publisher = new Publisher(nc, {
    subject: ctx.stream.subject,
    maxInFlight: 1,
    timeoutMs: 5_000,
    retries: 3,
  });
  try {
    return (await publisher.publish(event)).seq;
  } finally {
    publisher.close();
  }
}
