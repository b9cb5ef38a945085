import type { Histogram, Registry } from 'prom-client';

type Exported = Awaited<ReturnType<Histogram['get']>>;
type Value = Exported['values'][number];

/** An exemplar as prom-client's registry prints it: `# {labels} value timestamp` after a bucket. */
interface Exemplar {
  labelSet: Record<string, string>;
  value: number;
  timestamp: number;
}

function withExemplar(v: Value, exemplar: Exemplar | undefined): Value {
  return exemplar ? ({ ...v, exemplar } as Value) : v;
}

/**
 * A label-less histogram for a per-event path: `observe()` is a bucket search and two additions. prom-client's own
 * validates and hashes the labels and allocates a closure on every call (with the per-source counter beside it,
 * about 1 µs of the producer's 8 µs per generated event). It registers like any metric and the registry renders it
 * through `get()`, exactly as a prom-client Histogram with the same buckets and observations (a property test
 * compares the two).
 */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  private readonly counts: Float64Array;
  private sum = 0;
  /** Per bucket, the last observation that came with an exemplar (OpenMetrics registries only print them). */
  private readonly exemplars: Array<Exemplar | undefined>;

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length + 1);
    this.exemplars = new Array(this.bounds.length + 1);
    // The registry takes any metric with a name and get(); its parameter type lists prom-client's four classes.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Histogram);
  }

  /** `exemplar`: labels of the observation worth following (a traced event's `trace_id`). */
  observe(value: number, exemplar?: Record<string, string>): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    if (exemplar) this.exemplars[i] = { labelSet: exemplar, value, timestamp: Date.now() / 1000 };
  }

  reset(): void {
    this.counts.fill(0);
    this.exemplars.fill(undefined);
    this.sum = 0;
  }

  async get(): Promise<Exported> {
    const bucket = `${this.name}_bucket`;
    const values: Exported['values'] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i] as number;
      values.push(withExemplar({ labels: { le }, value: cumulative, metricName: bucket }, this.exemplars[i]));
    });
    const count = cumulative + (this.counts[this.bounds.length] as number);
    const last = this.exemplars[this.bounds.length];
    values.push(withExemplar({ labels: { le: '+Inf' }, value: count, metricName: bucket }, last));
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: count, metricName: `${this.name}_count` });
    // prom-client's types give `type` as a numeric enum and ask for `collect`; its registry reads the string and the
    // values, as its own Histogram returns them.
    const { name, help, type, aggregator } = this;
    return { name, help, type, values, aggregator } as unknown as Exported;
  }
}
