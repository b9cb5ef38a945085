import {
  type JszResponse,
  type KedaRead,
  kedaNodeLocator,
  kedaRead,
  type LagTarget,
  type MonitoringAnswer,
  type MonitoringRequest,
  type NodeLocator,
  newScalerMemory,
  portNodeLocator,
  runWalk,
  type ScalerMemory,
  type VarzResponse,
} from '@kvflow/autoscale';
import { describe, expect, it } from 'vitest';

/**
 * KEDA's nats-jetstream scaler on a NATS cluster (v2.20 nats_jetstream_scaler.go getNATSJetstreamMonitoringData),
 * on canned answers: which node it asks, in which order, and what it does when a node cannot be reached.
 */

const target: LagTarget = { account: '$G', stream: 'KVFLOW', consumer: 'workers' };
const SERVICE = 'http://nats-headless.nats.svc.cluster.local:8222';
const nodeUrl = (i: number) => `http://nats-${i}.nats-headless.nats.svc.cluster.local:8222`;
const jszOf = (base: string) => `${base}/jsz?acc=%24G&consumers=true&config=true`;

interface FakeNode {
  name: string;
  up: boolean;
  /** Who this node says leads the consumer. */
  leader: string;
  /** num_pending as this node reports it (a follower's count is stale). */
  pending: number;
  hasConsumer: boolean;
  hasStream: boolean;
}

/** A 3-node cluster as the NATS chart deploys it; the headless service answers from `serviceNode`. */
function chartCluster(opts: { advertised?: boolean } = {}) {
  const nodes: FakeNode[] = [0, 1, 2].map((i) => ({
    name: `nats-${i}`,
    up: true,
    leader: 'nats-1',
    pending: i === 1 ? 1000 : 6,
    hasConsumer: true,
    hasStream: true,
  }));
  const state = { serviceNode: 0, nodes, asked: [] as string[] };
  const byBase = (url: string): FakeNode => {
    const base = url.replace(/\/(jsz|varz).*$/, '');
    if (base === SERVICE) return nodes[state.serviceNode] as FakeNode;
    const i = [0, 1, 2].find((j) => nodeUrl(j) === base || `http://10.0.0.${j + 10}:8222` === base);
    if (i === undefined) throw new Error(`lookup ${base}: no such host`);
    return nodes[i] as FakeNode;
  };
  const jsz = (n: FakeNode): JszResponse => ({
    meta_cluster: { cluster_size: 3 },
    account_details: [
      {
        name: '$G',
        id: '$G',
        stream_detail: n.hasStream
          ? [
              {
                name: 'KVFLOW',
                state: { messages: 5000, first_seq: 1, last_seq: 5000 },
                consumer_detail: n.hasConsumer
                  ? [
                      {
                        name: 'workers',
                        num_pending: n.pending,
                        num_ack_pending: 0,
                        num_redelivered: 0,
                        cluster: { leader: n.leader },
                      },
                    ]
                  : [],
              },
            ]
          : [],
      },
    ],
  });
  const varz = (n: FakeNode): VarzResponse => ({
    server_name: n.name,
    connect_urls: opts.advertised ? nodes.map((_, j) => `10.0.0.${j + 10}:4222`) : [],
    // The chart configures a route to every pod, its own included.
    cluster: { urls: nodes.map((_, j) => `nats-${j}.nats-headless:6222`) },
  });
  const answer = (r: MonitoringRequest): MonitoringAnswer => {
    state.asked.push(`${r.kind} ${r.url}`);
    const n = byBase(r.url);
    if (!n.up) throw new Error(`cannot reach the NATS monitoring endpoint ${r.url}: connect ECONNREFUSED`);
    return r.kind === 'jsz' ? { kind: 'jsz', body: jsz(n) } : { kind: 'varz', body: varz(n) };
  };
  return { ...state, state, answer };
}

function reader(
  answer: (r: MonitoringRequest) => MonitoringAnswer,
  locate: NodeLocator = kedaNodeLocator(SERVICE),
) {
  let memory: ScalerMemory = newScalerMemory();
  return (): KedaRead => {
    const r = runWalk(kedaRead(memory, target, { monitorUrl: SERVICE, locate }), answer);
    memory = r.memory;
    return r;
  };
}

const lagOf = (r: KedaRead) => ('error' in r ? r.error : r.reading.lag);

describe("KEDA's node addressing", () => {
  it('names a route URL (no_advertise, the chart) by its first DNS label, in front of the endpoint host', () => {
    const locate = kedaNodeLocator(SERVICE);
    expect(locate('nats-2.nats-headless:6222', false)).toEqual({ name: 'nats-2', monitorUrl: nodeUrl(2) });
  });

  it("takes an advertised client URL's host with the endpoint's port, its name left to its /varz", () => {
    expect(kedaNodeLocator(SERVICE)('10.0.0.3:4222', true)).toEqual({ monitorUrl: 'http://10.0.0.3:8222' });
    expect(kedaNodeLocator('https://nats.example')('10.0.0.3:4222', true)).toEqual({
      monitorUrl: 'https://10.0.0.3',
    });
  });

  it('on loopback, every advertised node is 127.0.0.1 and KEDA would ask the endpoint node each time', () => {
    const locate = kedaNodeLocator('http://127.0.0.1:8222');
    expect(locate('127.0.0.1:4223', true)).toEqual({ monitorUrl: 'http://127.0.0.1:8222' });
    const local = portNodeLocator(new Map([[4223, 'http://127.0.0.1:8223']]));
    expect(local('127.0.0.1:4223', true)).toEqual({ monitorUrl: 'http://127.0.0.1:8223' });
    expect(() => local('127.0.0.1:4999', true)).toThrow(
      /no local NATS node behind client URL 127.0.0.1:4999/,
    );
  });
});

describe('nats-jetstream scaler on a NATS cluster (KEDA v2.20)', () => {
  it("walks the listed nodes to the consumer leader and reads the leader's count, not a follower's", () => {
    const c = chartCluster();
    const r = reader(c.answer)();
    expect(c.asked).toEqual([
      `jsz ${jszOf(SERVICE)}`,
      `varz ${SERVICE}/varz`,
      `jsz ${jszOf(nodeUrl(0))}`,
      `jsz ${jszOf(nodeUrl(1))}`,
    ]);
    expect(r).toMatchObject({ reading: { lag: 1000, source: jszOf(nodeUrl(1)), consumerLeader: 'nats-1' } });
  });

  it('asks only the cached leader while it stays the leader', () => {
    const c = chartCluster();
    const read = reader(c.answer);
    read();
    c.asked.length = 0;
    c.nodes[1] = { ...(c.nodes[1] as FakeNode), pending: 900 };
    expect(lagOf(read())).toBe(900);
    expect(c.asked).toEqual([`jsz ${jszOf(nodeUrl(1))}`]);
  });

  it('walks again when the cached leader names another leader', () => {
    const c = chartCluster();
    const read = reader(c.answer);
    read();
    for (const n of c.nodes) n.leader = 'nats-2';
    c.nodes[2] = { ...(c.nodes[2] as FakeNode), pending: 700 };
    c.asked.length = 0;
    const r = read();
    expect(r).toMatchObject({ reading: { lag: 700, source: jszOf(nodeUrl(2)), consumerLeader: 'nats-2' } });
    expect(c.asked).toEqual([
      `jsz ${jszOf(nodeUrl(1))}`,
      `varz ${SERVICE}/varz`,
      `jsz ${jszOf(nodeUrl(0))}`,
      `jsz ${jszOf(nodeUrl(1))}`,
      `jsz ${jszOf(nodeUrl(2))}`,
    ]);
  });

  it('errs when the leader is down and a down node is listed before the new one: the walk does not skip it', () => {
    const c = chartCluster();
    const read = reader(c.answer);
    read();
    (c.nodes[1] as FakeNode).up = false;
    for (const n of c.nodes) n.leader = 'nats-2';
    c.asked.length = 0;
    expect(lagOf(read())).toMatch(/cannot reach .*nats-1\.nats-headless.* ECONNREFUSED/);
    // The cached leader failed; the rebuilt scaler asked again from the endpoint and stopped at the same node.
    expect(c.asked).toEqual([
      `jsz ${jszOf(nodeUrl(1))}`,
      `jsz ${jszOf(SERVICE)}`,
      `varz ${SERVICE}/varz`,
      `jsz ${jszOf(nodeUrl(0))}`,
      `jsz ${jszOf(nodeUrl(1))}`,
    ]);
  });

  it('reads on when a down node is listed after the leader, and when a follower goes down', () => {
    const c = chartCluster();
    const read = reader(c.answer);
    (c.nodes[2] as FakeNode).up = false;
    expect(lagOf(read())).toBe(1000);
    (c.nodes[0] as FakeNode).up = false;
    expect(lagOf(read())).toBe(1000); // the cached leader answers; no other node is asked
  });

  it('errs while the surviving nodes still name the dead leader (before the re-election)', () => {
    // The chart's routes still list the dead node: asking it fails.
    const c = chartCluster();
    (c.nodes[1] as FakeNode).up = false;
    expect(lagOf(reader(c.answer)())).toMatch(/cannot reach .*nats-1\.nats-headless/);
    // An advertised cluster forgets a dead node's client URL: nobody left names itself the leader.
    const a = chartCluster({ advertised: true });
    (a.nodes[1] as FakeNode).up = false;
    const withoutDead = (r: MonitoringRequest): MonitoringAnswer => {
      const ans = a.answer(r);
      if (ans.kind !== 'varz') return ans;
      return { kind: 'varz', body: { ...ans.body, connect_urls: ['10.0.0.10:4222', '10.0.0.12:4222'] } };
    };
    expect(lagOf(reader(withoutDead)())).toBe('leader node not found for consumer workers');
  });

  it("takes an advertised node's name from its own /varz", () => {
    const c = chartCluster({ advertised: true });
    const r = reader(c.answer)();
    expect(r).toMatchObject({ reading: { lag: 1000, source: jszOf('http://10.0.0.11:8222') } });
    expect(c.asked.slice(2)).toEqual([
      'varz http://10.0.0.10:8222/varz',
      `jsz ${jszOf('http://10.0.0.10:8222')}`,
      'varz http://10.0.0.11:8222/varz',
      `jsz ${jszOf('http://10.0.0.11:8222')}`,
    ]);
  });

  it('errs "leader node not found" when the consumer or the stream is missing, and again after the rebuild', () => {
    const c = chartCluster();
    const read = reader(c.answer);
    expect(lagOf(read())).toBe(1000);
    for (const n of c.nodes) n.hasConsumer = false;
    expect(lagOf(read())).toBe('leader node not found for consumer workers');
    for (const n of c.nodes) n.hasStream = false;
    expect(lagOf(read())).toBe('leader node not found for consumer workers');
  });

  it('uses the injected addressing: the same walk on other URLs', () => {
    const c = chartCluster();
    const seen: string[] = [];
    const locate: NodeLocator = (address, advertised) => {
      seen.push(address);
      return kedaNodeLocator(SERVICE)(address, advertised);
    };
    expect(lagOf(reader(c.answer, locate)())).toBe(1000);
    expect(seen).toEqual(['nats-0.nats-headless:6222', 'nats-1.nats-headless:6222']);
  });
});

describe('nats-jetstream scaler on a single server', () => {
  it('asks the endpoint once per read and never /varz (no meta_cluster)', () => {
    const asked: string[] = [];
    const single = (r: MonitoringRequest): MonitoringAnswer => {
      asked.push(r.url);
      return {
        kind: 'jsz',
        body: {
          account_details: [
            {
              name: '$G',
              stream_detail: [
                {
                  name: 'KVFLOW',
                  state: { messages: 10, first_seq: 1, last_seq: 10 },
                  consumer_detail: [
                    { name: 'workers', num_pending: 7, num_ack_pending: 2, num_redelivered: 0 },
                  ],
                },
              ],
            },
          ],
        },
      };
    };
    const read = reader(single);
    expect([lagOf(read()), lagOf(read())]).toEqual([9, 9]);
    expect(asked).toEqual([jszOf(SERVICE), jszOf(SERVICE)]);
  });
});
