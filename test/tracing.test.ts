import { randomBytes } from 'node:crypto';
import { type DeadLetter, listDeadLetters, replayDeadLetter } from '@kvflow/common';
import {
  freePort,
  httpReady,
  type JaegerProcess,
  type ServiceProcess,
  startJaeger,
  waitUntil,
} from '@kvflow/stack';
import { consumerLag, serviceEnv, settingsFor, spawnService, startWorkerProcess } from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// One write followed across the queue in a real Jaeger: the producer and the workers export OTLP/HTTP to it, and
// the test reads the trace back through Jaeger's query API (/api/traces/<id>, the Jaeger JSON model).

/** A span as Jaeger's v3 query API returns it (OTLP JSON), with its service. */
interface OtlpSpan {
  spanId: string;
  parentSpanId?: string;
  name: string;
  links?: Array<{ traceId: string; spanId: string }>;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string; boolValue?: boolean } }>;
  service: string;
}
interface OtlpTrace {
  resourceSpans: Array<{
    resource: { attributes: OtlpSpan['attributes'] };
    scopeSpans: Array<{ spans: Omit<OtlpSpan, 'service'>[] }>;
  }>;
}

const servers = useServers();
let jaeger: JaegerProcess;
let producer: ServiceProcess;
let apiPort: number;
let env: Record<string, string>;
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  jaeger = await startJaeger();
  env = serviceEnv(servers.nats, servers.redis, {
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
    OTEL_TRACES_SAMPLER: 'always_on',
    LOG_LEVEL: 'info',
    // A delivery not acknowledged within 2 s goes to another worker: the redelivery test kills one.
    ACK_WAIT_MS: '2000',
  });
  apiPort = await freePort();
  producer = spawnService('producer/dist/main.js', {
    ...env,
    HTTP_PORT: String(apiPort),
    HTTP_HOST: '127.0.0.1',
  });
  servers.services.push(producer);
  await waitUntil('producer ready', () => httpReady(apiPort));
}, 60_000);
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await jaeger?.stop();
});

/** A caller's own trace context: the test knows the trace id before the write. */
function callerContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

async function putKey(key: string, traceparent: string): Promise<{ id: string; seq: number }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/keys/${key}`, {
    method: 'PUT',
    headers: { 'content-type': 'text/plain', traceparent },
    body: 'traced value',
  });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as { id: string; seq: number };
}

function tag(s: OtlpSpan, key: string): string | number | boolean | undefined {
  const v = s.attributes.find((a) => a.key === key)?.value;
  if (v?.intValue !== undefined) return Number(v.intValue);
  return v?.stringValue ?? v?.boolValue;
}

/** Polls Jaeger until the trace has the spans `done` waits for (spans are exported in batches, each second). */
async function traceOf(traceId: string, done: (spans: OtlpSpan[]) => boolean): Promise<OtlpSpan[]> {
  let last: OtlpSpan[] = [];
  await waitUntil(
    `trace ${traceId} in Jaeger`,
    async () => {
      const res = await fetch(`${jaeger.queryUrl}/api/v3/traces/${traceId}`);
      if (!res.ok) return false;
      const { result } = (await res.json()) as { result: OtlpTrace };
      last = result.resourceSpans.flatMap((r) => {
        const service = String(
          r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
        );
        return r.scopeSpans.flatMap((sc) => sc.spans.map((sp) => ({ ...sp, service })));
      });
      return done(last);
    },
    30_000,
  );
  return last;
}

const named = (spans: OtlpSpan[], prefix: string) => spans.filter((s) => s.name.startsWith(prefix));

describe('tracing one write across the queue (real Jaeger)', () => {
  it('finds the HTTP span, the publish span and the worker process/apply spans in one trace', async () => {
    const worker = await startWorkerProcess(env, workers);
    const caller = callerContext();
    const { id, seq } = await putKey('traced', caller.traceparent);
    const t = await traceOf(caller.traceId, (spans) => named(spans, 'apply').length > 0);

    const [http] = named(t, 'PUT /keys/:key');
    const [publish] = named(t, 'publish ');
    const [process] = named(t, 'process ');
    const [apply] = named(t, 'apply');
    expect(http && publish && process && apply, JSON.stringify(t.map((s) => s.name))).toBeTruthy();
    if (!http || !publish || !process || !apply) return;
    // The chain: the caller's span -> HTTP (server) -> publish (producer) -> process (consumer) -> apply.
    expect(http.parentSpanId).toBe(caller.spanId);
    expect(publish.parentSpanId).toBe(http.spanId);
    expect(process.parentSpanId).toBe(publish.spanId);
    expect(process.links).toContainEqual(expect.objectContaining({ spanId: publish.spanId }));
    expect(apply.parentSpanId).toBe(process.spanId);
    expect(http.service).toBe('kvflow-producer');
    expect(process.service).toBe('kvflow-consumer');
    // Message id and stream sequence on both sides of the queue; messaging conventions; no value anywhere.
    for (const s of [publish, process]) {
      expect(tag(s, 'messaging.message.id')).toBe(id);
      expect(tag(s, 'kvflow.stream.sequence')).toBe(seq);
      expect(tag(s, 'messaging.system')).toBe('nats');
      expect(tag(s, 'messaging.destination.name')).toBe(settingsFor(env).subject);
    }
    expect(tag(process, 'kvflow.num_delivered')).toBe(1);
    expect(tag(process, 'messaging.consumer.group.name')).toBe(settingsFor(env).consumer);
    expect(Number(tag(process, 'kvflow.time_in_stream_ms'))).toBeGreaterThanOrEqual(0);
    expect(tag(apply, 'kvflow.apply.outcome')).toBe('applied');
    expect(tag(http, 'http.response.status_code')).toBe(202);
    expect(JSON.stringify(t)).not.toContain('traced value');

    // Exemplars (OpenMetrics): the publish and end-to-end histograms point at this trace.
    const exemplar = new RegExp(`_bucket\\{le="[^"]+"\\} \\d+ # \\{trace_id="${caller.traceId}"\\}`);
    const producerMetrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    expect(
      producerMetrics.split('\n').filter((l) => l.startsWith('kvflow_publish_duration_seconds_bucket')),
    ).toEqual(expect.arrayContaining([expect.stringMatching(exemplar)]));
    const workerMetrics = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    expect(
      workerMetrics.split('\n').filter((l) => l.startsWith('kvflow_end_to_end_lag_seconds_bucket')),
    ).toEqual(expect.arrayContaining([expect.stringMatching(exemplar)]));
  }, 60_000);

  it('shows a redelivery after a worker is killed between fetch and ack in the same trace', async () => {
    for (const w of workers.splice(0)) await w.stop(10_000);
    // A worker that holds each batch for a minute before applying it: killed while it holds the event.
    const slow = await startWorkerProcess({ ...env, WORK_MS: '60000' }, workers);
    const caller = callerContext();
    const { seq } = await putKey('redelivered', caller.traceparent);
    await waitUntil('the slow worker fetched the event', async () => {
      const lag = await consumerLag(servers.nc, settingsFor(env));
      return lag.ackPending === 1 && lag.delivered >= seq;
    });
    slow.service.child.kill('SIGKILL');
    await startWorkerProcess(env, workers);
    const t = await traceOf(caller.traceId, (spans) => named(spans, 'apply').length > 0);
    const processes = named(t, 'process ');
    expect(processes.length).toBeGreaterThanOrEqual(1);
    const redelivered = processes.find((s) => Number(tag(s, 'kvflow.num_delivered')) >= 2);
    expect(redelivered, JSON.stringify(processes.map((s) => s.attributes))).toBeDefined();
    expect(tag(redelivered as OtlpSpan, 'kvflow.stream.sequence')).toBe(seq);
    const [publish] = named(t, 'publish ');
    expect((redelivered as OtlpSpan).parentSpanId).toBe(publish?.spanId);
  }, 90_000);

  it("writes the request's trace id on its log line", async () => {
    const caller = callerContext();
    await putKey('logged', caller.traceparent);
    await waitUntil('the request log line', async () => producer.output().includes(caller.traceId));
    const line = producer
      .output()
      .split('\n')
      .find((l) => l.includes(caller.traceId));
    const entry = JSON.parse(line as string) as Record<string, unknown>;
    expect(entry).toMatchObject({ trace_id: caller.traceId, msg: 'request completed', status: 202 });
    expect(entry.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(entry.span_id).not.toBe(caller.spanId);
  }, 30_000);

  it('keeps the trace of a dead-lettered event in its dead-letter copy and in its replay', async () => {
    if (workers.length === 0) await startWorkerProcess(env, workers);
    const caller = callerContext();
    const s = settingsFor(env);
    const h = headers();
    h.set('Nats-Msg-Id', `poison-${caller.traceId}`);
    h.set('traceparent', caller.traceparent);
    await jetstream(servers.nc).publish(s.subject, new TextEncoder().encode('not an event'), { headers: h });
    const jsm = await jetstreamManager(servers.nc);
    let letter: DeadLetter | undefined;
    await waitUntil('the poison message dead-lettered', async () => {
      for await (const l of listDeadLetters(jsm, s))
        if (l.trace?.traceparent === caller.traceparent) letter = l;
      return letter !== undefined;
    });
    expect(letter?.kind).toBe('poison');
    const replayedSeq = await replayDeadLetter(servers.nc, jsm, s, letter as DeadLetter);
    const replayed = await jsm.streams.getMessage(s.stream, { seq: replayedSeq });
    expect(replayed?.header.get('traceparent')).toBe(caller.traceparent);
  }, 30_000);

  it('continues the trace when kvflow rebuild applies a traced event again', async () => {
    if (workers.length === 0) await startWorkerProcess(env, workers);
    const caller = callerContext();
    const { seq } = await putKey('rebuilt', caller.traceparent);
    await traceOf(caller.traceId, (spans) => named(spans, 'apply').length > 0);
    const cli = spawnService('cli/dist/main.js', env, ['rebuild', '--from-seq', String(seq)]);
    servers.services.push(cli);
    const { code } = await cli.exited;
    expect(code, cli.output()).toBe(0);
    const t = await traceOf(caller.traceId, (spans) => named(spans, 'rebuild ').length > 0);
    const [rebuilt] = named(t, 'rebuild ');
    const [publish] = named(t, 'publish ');
    expect(rebuilt?.parentSpanId).toBe(publish?.spanId);
    expect(rebuilt?.service).toBe('kvflow-cli');
    expect(tag(rebuilt as OtlpSpan, 'kvflow.stream.sequence')).toBe(seq);
    expect(tag(rebuilt as OtlpSpan, 'kvflow.apply.outcome')).toBe('stale');
  }, 60_000);
});
