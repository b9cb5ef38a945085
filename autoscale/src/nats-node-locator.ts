/** A node of a NATS cluster as the lag reader reaches it while it looks for the consumer leader. */
export interface ClusterNode {
  /** The node's monitoring endpoint: scheme, host and port. */
  monitorUrl: string;
  /** The node's server name when its address gives it; otherwise the reader asks the node's /varz. */
  name?: string;
}

/**
 * From an address the monitoring endpoint's /varz lists to the node behind it: a client URL from `connect_urls`
 * (`advertised`), or, when the servers advertise none (the NATS chart sets `no_advertise`), a route URL from
 * `cluster.urls`. Injectable because KEDA's rule needs one DNS name per node, which one machine does not have.
 */
export type NodeLocator = (address: string, advertised: boolean) => ClusterNode;

function endpointOf(monitorUrl: string): URL {
  try {
    return new URL(monitorUrl);
  } catch (err) {
    throw new Error(`invalid NATS monitoring URL ${monitorUrl}: ${(err as Error).message}`);
  }
}

/**
 * KEDA's rule (nats_jetstream_scaler.go getNATSJetStreamMonitoringServerURL, getNATSJetStreamMonitoringNodeURL,
 * getNATSJetStreamMonitoringNodeURLByNode), for the monitoring endpoint `monitorUrl`:
 *   advertised client URL 10.0.0.3:4222 -> http://10.0.0.3:<endpoint port>, its name read from its /varz;
 *   route URL nats-1.nats-headless:6222 -> node nats-1 at http://nats-1.<endpoint host:port>, e.g.
 *   http://nats-1.nats-headless.nats.svc.cluster.local:8222 for the chart's endpoint.
 */
export function kedaNodeLocator(monitorUrl: string): NodeLocator {
  const endpoint = endpointOf(monitorUrl);
  return (address, advertised) => {
    if (advertised) {
      const host = address.split(':')[0] ?? '';
      return { monitorUrl: `${endpoint.protocol}//${endpoint.port ? `${host}:${endpoint.port}` : host}` };
    }
    const name = address.split('.')[0] ?? '';
    return { name, monitorUrl: `${endpoint.protocol}//${name}.${endpoint.host}` };
  };
}

/**
 * Nodes on one host that differ by port (a cluster on loopback): the port of an advertised client URL picks the
 * node's monitoring endpoint; its name still comes from its /varz, as in KEDA.
 */
export function portNodeLocator(monitorUrlByClientPort: ReadonlyMap<number, string>): NodeLocator {
  return (address, advertised) => {
    const port = Number(address.split(':').at(-1));
    const monitorUrl = advertised ? monitorUrlByClientPort.get(port) : undefined;
    if (monitorUrl === undefined) {
      throw new Error(
        `no local NATS node behind ${advertised ? 'client' : 'route'} URL ${address} (known client ports: ${[...monitorUrlByClientPort.keys()].join(', ')})`,
      );
    }
    return { monitorUrl };
  };
}
