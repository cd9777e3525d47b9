import type { Metric, Registry } from "prom-client";

/**
 * Counter and histogram families for the series bumped on every request (the
 * HTTP answers, the provider calls). prom-client's labelled children check and
 * hash their labels and build a label-value object on every inc() and
 * observe(): 20–40 µs a request in a profile of the list under load
 * (BENCHMARKS.md). A cell here is a number or an array of bucket counts: one
 * addition per inc(), a bucket search and three additions per observe(). The
 * family is rendered by the same registry at scrape time, in the same text
 * format as prom-client's own families.
 */

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface FamilyOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

abstract class Family<L extends string, C> {
  private readonly cells = new Map<string, { labels: Record<L, string>; cell: C }>();
  readonly name: string;
  readonly help: string;
  abstract readonly type: "counter" | "histogram";
  readonly aggregator = "sum";

  constructor(private readonly options: FamilyOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    // The registry reads name, help, type and get(); it holds prom-client's own metric classes, of which this is one in shape.
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  protected abstract make(): C;
  protected abstract values(labels: Record<L, string>, cell: C, out: MetricValue[]): void;

  /** The cell of one label set: look it up once and keep it, or call inc()/observe() with the labels. */
  cell(labels: Record<L, string>): C {
    let key = "";
    for (const name of this.options.labelNames) key += `${labels[name]}\u0000`;
    let entry = this.cells.get(key);
    if (!entry) {
      const own = {} as Record<L, string>;
      for (const name of this.options.labelNames) own[name] = String(labels[name]);
      entry = { labels: own, cell: this.make() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** What the registry renders (prom-client's get()). */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const { labels, cell } of this.cells.values()) this.values(labels, cell, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.cells.clear();
  }
}

export class CounterCell {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class CounterFamily<L extends string> extends Family<L, CounterCell> {
  readonly type = "counter";
  protected make(): CounterCell {
    return new CounterCell();
  }
  protected values(labels: Record<L, string>, cell: CounterCell, out: MetricValue[]): void {
    out.push({ labels, value: cell.value });
  }
  inc(labels: Record<L, string>, by = 1): void {
    this.cell(labels).inc(by);
  }
}

export class HistogramCell {
  count = 0;
  sum = 0;
  /** Observations per bucket (not cumulative); the last is above every bound. */
  readonly counts: Float64Array;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.count += 1;
    this.sum += value;
  }
}

export class HistogramFamily<L extends string> extends Family<L, HistogramCell> {
  readonly type = "histogram";
  private readonly bounds: readonly number[];
  constructor(options: FamilyOptions<L> & { buckets: readonly number[] }) {
    super(options);
    this.bounds = [...options.buckets].sort((a, b) => a - b);
  }
  protected make(): HistogramCell {
    return new HistogramCell(this.bounds);
  }
  protected values(labels: Record<L, string>, cell: HistogramCell, out: MetricValue[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += cell.counts[i]!;
      out.push({ labels: { le: this.bounds[i]!, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
    }
    out.push({ labels: { le: "+Inf", ...labels }, value: cell.count, metricName: `${this.name}_bucket` });
    out.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
    out.push({ labels, value: cell.count, metricName: `${this.name}_count` });
  }
  observe(labels: Record<L, string>, value: number): void {
    this.cell(labels).observe(value);
  }
}
