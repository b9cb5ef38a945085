/** The parts of nats-server's monitoring answers (/jsz, /varz) that KEDA's nats-jetstream scaler reads. */

export interface ConsumerDetail {
  name: string;
  num_pending: number;
  num_ack_pending: number;
  num_redelivered: number;
  delivered?: { stream_seq: number };
  cluster?: { leader?: string };
}

export interface StreamDetail {
  name: string;
  state: { messages: number; first_seq: number; last_seq: number };
  consumer_detail?: ConsumerDetail[];
}

export interface AccountDetail {
  name: string;
  id?: string;
  stream_detail?: StreamDetail[];
}

export interface JszResponse {
  meta_cluster?: { cluster_size?: number };
  account_details?: AccountDetail[];
}

export interface VarzResponse {
  server_name?: string;
  /** The client URLs the cluster advertises; empty with `no_advertise` (the NATS Helm chart's setting). */
  connect_urls?: string[];
  /** `urls`: the route URLs this server was configured with. */
  cluster?: { urls?: string[] };
}

function base(monitorUrl: string): string {
  return monitorUrl.replace(/\/$/, '');
}

/** The URL KEDA asks: GET <monitoring>/jsz?acc=<account>&consumers=true&config=true. */
export function jszUrl(monitorUrl: string, account: string): string {
  return `${base(monitorUrl)}/jsz?acc=${encodeURIComponent(account)}&consumers=true&config=true`;
}

export function varzUrl(monitorUrl: string): string {
  return `${base(monitorUrl)}/varz`;
}

/** KEDA's IsAccount: the configured account is matched against the account's id or its name. */
export function isAccount(a: AccountDetail, account: string): boolean {
  return a.id === account || a.name === account;
}
