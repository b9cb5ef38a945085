import { type DeadLetter, listDeadLetters, replayDeadLetter } from '@kvflow/common';
import { jetstreamManager } from '@nats-io/jetstream';
import { type CliContext, CliError, EXIT } from '../context.js';

function preview(data: Uint8Array | null): string {
  if (!data) return '(original no longer in the stream)';
  const text = Buffer.from(data).toString('utf8');
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

export async function listLetters(
  ctx: CliContext,
  json: boolean,
  out: (line: string) => void,
): Promise<number> {
  const jsm = await jetstreamManager(await ctx.nats());
  let count = 0;
  for await (const l of listDeadLetters(jsm, ctx.stream)) {
    count++;
    if (json) {
      out(JSON.stringify({ ...l, data: l.data ? Buffer.from(l.data).toString('utf8') : null }));
    } else {
      out(
        `#${l.seq}  ${l.kind.padEnd(14)} original seq ${l.originalSeq}  deliveries ${l.deliveries}  ${l.time}\n` +
          `      reason: ${l.reason}\n      payload: ${preview(l.data)}`,
      );
    }
  }
  if (!json) out(count === 0 ? 'no dead letters' : `${count} dead letter(s)`);
  return count;
}

export async function replayLetters(
  ctx: CliContext,
  seqs: number[],
  all: boolean,
  out: (line: string) => void,
): Promise<void> {
  if (!all && seqs.length === 0)
    throw new CliError('name dead-letter sequences to replay, or pass --all', EXIT.usage);
  const nc = await ctx.nats();
  const jsm = await jetstreamManager(nc);
  const wanted = new Set(seqs);
  const found: DeadLetter[] = [];
  for await (const l of listDeadLetters(jsm, ctx.stream)) if (all || wanted.has(l.seq)) found.push(l);
  const missing = seqs.filter((s) => !found.some((l) => l.seq === s));
  for (const l of found) {
    const seq = await replayDeadLetter(nc, jsm, ctx.stream, l);
    out(`replayed dead letter #${l.seq} (original seq ${l.originalSeq}) as seq ${seq}`);
  }
  if (missing.length > 0) throw new CliError(`no dead letter with seq ${missing.join(', ')}`, EXIT.notFound);
  if (found.length === 0) out('nothing to replay');
}
