import {
  createKedaLagReader,
  type JszResponse,
  jszUrl,
  type LagTarget,
  portNodeLocator,
  readLag,
} from '@kvflow/autoscale';
import { connectNats, createLogger, type NatsConnection, provision } from '@kvflow/common';
import { type NatsCluster, type NatsProcess, startNatsCluster, waitUntil } from '@kvflow/stack';
import { connectionFor, settingsFor } from '@kvflow/testkit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The lag reader on a real 3-node JetStream cluster (stream and consumer at R3), as KEDA's nats-jetstream scaler
 * reads it: from the endpoint's /varz to the node leading the consumer. The nodes share 127.0.0.1, so they are
 * told apart by their advertised client ports (portNodeLocator) where KEDA would use one DNS name per node.
 */
const settings = settingsFor({ STREAM_REPLICAS: '3' });
const target: LagTarget = { account: '$G', stream: settings.stream, consumer: settings.consumer };
const MESSAGES = 50;

let cluster: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  nc = await connectNats(connectionFor({ NATS_URL: cluster.url }), createLogger('test', 'silent'), 'test');
  await provision(nc, settings);
  const js = jetstream(nc);
  for (let i = 0; i < MESSAGES; i++) await js.publish(settings.subject, `not read by anyone ${i}`);
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

const nameOf = (s: NatsProcess) => `n${cluster.servers.indexOf(s) + 1}`;
const serverNamed = (name: string) => cluster.servers.find((s) => nameOf(s) === name) as NatsProcess;
const locate = () => portNodeLocator(new Map(cluster.servers.map((s) => [s.port, s.monitorUrl])));

async function consumerLeader(): Promise<NatsProcess> {
  const jsm = await jetstreamManager(nc);
  const name = (await jsm.consumers.info(settings.stream, settings.consumer)).cluster?.leader ?? '';
  const leader = serverNamed(name);
  expect(leader, `consumer leader "${name}"`).toBeDefined();
  return leader;
}

/** A node's own view of the consumer: the leader it names and the lag it reports. */
async function ownView(s: NatsProcess): Promise<{ leader: string; lag: number } | null> {
  const body = (await (await fetch(jszUrl(s.monitorUrl, '$G'))).json()) as JszResponse;
  const stream = body.account_details?.[0]?.stream_detail?.find((x) => x.name === settings.stream);
  const c = stream?.consumer_detail?.find((x) => x.name === settings.consumer);
  return c ? { leader: c.cluster?.leader ?? '', lag: c.num_pending + c.num_ack_pending } : null;
}

describe('lag reader on a NATS cluster (KEDA nats-jetstream)', () => {
  let leader: NatsProcess;
  let endpoint: NatsProcess;
  let read: () => ReturnType<ReturnType<typeof createKedaLagReader>>;

  it('finds the consumer leader through /varz from a node that is not the leader, and reads its count', async () => {
    await waitUntil('the leader counts every message', async () => {
      leader = await consumerLeader();
      return (await ownView(leader))?.lag === MESSAGES;
    });
    endpoint = cluster.servers.find((s) => s !== leader) as NatsProcess;
    read = createKedaLagReader(endpoint.monitorUrl, target, { locate: locate() });
    const r = await read();
    expect(r).toMatchObject({
      lag: MESSAGES,
      source: jszUrl(leader.monitorUrl, '$G'),
      consumerLeader: nameOf(leader),
      streamFound: true,
    });
    // Every node names the same leader; the reading is the leader's own.
    for (const s of cluster.servers) expect((await ownView(s))?.leader).toBe(nameOf(leader));
    expect(r.lag).toBe((await ownView(leader))?.lag);
  });

  it("with KEDA's own addressing on one host every node is the endpoint: the leader is never asked", async () => {
    await expect(readLag(endpoint.monitorUrl, '$G', settings.stream, settings.consumer)).rejects.toThrow(
      /leader node not found for consumer workers/,
    );
  });

  it('keeps reading from the leader while a follower is down', async () => {
    const follower = cluster.servers.find((s) => s !== leader && s !== endpoint) as NatsProcess;
    await follower.kill();
    expect(await read()).toMatchObject({ lag: MESSAGES, source: jszUrl(leader.monitorUrl, '$G') });
    await follower.start();
    await waitUntil('the follower has the consumer again', async () => (await ownView(follower)) !== null);
  });

  it('errs once the leader dies, until the consumer has a new leader, then reads from that one', async () => {
    const old = leader;
    await old.kill();
    // The cached leader is unreachable; the rebuilt scaler's walk finds no reachable node that names itself leader
    // (the survivors still name the dead one until their election timeout).
    await expect(read()).rejects.toThrow(/cannot reach|leader node not found/);
    const errors = new Map<string, number>();
    await waitUntil(
      'a reading from the new leader',
      async () => {
        const r = await read().catch((err: Error) => {
          const kind = err.message.replace(/http:\/\/\S+/g, 'URL').replace(/\d+/g, 'N');
          errors.set(kind, (errors.get(kind) ?? 0) + 1);
          return null;
        });
        return r !== null;
      },
      45_000,
    );
    const r = await read();
    const now = serverNamed(r.consumerLeader);
    expect(now).not.toBe(old);
    expect(r).toMatchObject({ lag: MESSAGES, source: jszUrl(now.monitorUrl, '$G') });
    expect((await ownView(now))?.leader).toBe(nameOf(now));
    console.info(
      `leader ${nameOf(old)} killed; failed reads until ${nameOf(now)} led: ${JSON.stringify([...errors])}`,
    );
    await old.start();
  }, 90_000);
});
