import type { Histogram, Registry } from 'prom-client';

type Exported = Awaited<ReturnType<Histogram['get']>>;

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

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length + 1);
    // The registry takes any metric with a name and get(); its parameter type lists prom-client's four classes.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Histogram);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
  }

  async get(): Promise<Exported> {
    const bucket = `${this.name}_bucket`;
    const values: Exported['values'] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i] as number;
      values.push({ labels: { le }, value: cumulative, metricName: bucket });
    });
    const count = cumulative + (this.counts[this.bounds.length] as number);
    values.push({ labels: { le: '+Inf' }, value: count, metricName: bucket });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: count, metricName: `${this.name}_count` });
    // prom-client's types give `type` as a numeric enum and ask for `collect`; its registry reads the string and the
    // values, as its own Histogram returns them.
    const { name, help, type, aggregator } = this;
    return { name, help, type, values, aggregator } as unknown as Exported;
  }
}
