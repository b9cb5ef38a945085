import { rebuildFromStream } from '@kvflow/common';
import type { CliContext } from '../context.js';
import { Progress } from '../progress.js';

export async function rebuild(ctx: CliContext, opts: { fromSeq?: number; reset: boolean }): Promise<string> {
  const nc = await ctx.nats();
  const redis = await ctx.redisClient();
  let progress: Progress | null = null;
  const result = await rebuildFromStream(nc, redis, ctx.stream, {
    fromSeq: opts.fromSeq,
    reset: opts.reset,
    tracer: ctx.tracing?.tracer,
    onProgress: (p) => {
      progress ??= new Progress('rebuilding', p.lastSeq - p.firstSeq + 1);
      progress.update(p.seq - p.firstSeq + 1);
    },
  });
  (progress as Progress | null)?.stop();
  return (
    `rebuilt Redis from ${ctx.stream.stream} seq ${result.firstSeq}..${result.lastSeq}${opts.reset ? ' (after reset)' : ''}: ` +
    `applied ${result.applied}, already current ${result.stale}, skipped invalid ${result.skipped}`
  );
}
