// A small registry of counters, gauges and histograms written in Prometheus's text exposition
// format (version 0.0.4). Rampart's own metrics need a few dozen series, not a client library.

export type Labels = Readonly<Record<string, string>>;

type Kind = 'counter' | 'gauge' | 'histogram';

interface Family {
  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  render(out: string[]): void;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/** A value per label set that only goes up (resets only when the process restarts). */
export class Counter implements Family {
  readonly kind = 'counter';
  readonly name: string;
  readonly help: string;
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${by})`);
    const k = key(labels);
    const cur = this.#values.get(k);
    if (cur) cur.value += by;
    else this.#values.set(k, { labels, value: by });
  }

  render(out: string[]): void {
    renderValues(this.name, this.#values.values(), out);
  }
}

function renderValues(
  name: string,
  values: Iterable<{ labels: Labels; value: number }>,
  out: string[],
): void {
  for (const { labels, value } of values) out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
}

/** A value per label set that goes up and down; `reset` drops every label set (for scrape-time gauges). */
export class Gauge implements Family {
  readonly kind = 'gauge';
  readonly name: string;
  readonly help: string;
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  set(labels: Labels, value: number): void {
    this.#values.set(key(labels), { labels, value });
  }

  reset(): void {
    this.#values.clear();
  }

  render(out: string[]): void {
    renderValues(this.name, this.#values.values(), out);
  }
}

/** Cumulative buckets, sum and count per label set. Bucket bounds in the metric's unit. */
export class Histogram implements Family {
  readonly kind = 'histogram';
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  readonly #values = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let cur = this.#values.get(k);
    if (!cur) {
      cur = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#values.set(k, cur);
    }
    this.buckets.forEach((le, i) => {
      if (value <= le) cur.counts[i]! += 1;
    });
    cur.sum += value;
    cur.count += 1;
  }

  render(out: string[]): void {
    for (const { labels, counts, sum, count } of this.#values.values()) {
      this.buckets.forEach((le, i) => {
        out.push(`${this.name}_bucket${formatLabels(labels, ['le', formatValue(le)])} ${counts[i]}`);
      });
      out.push(`${this.name}_bucket${formatLabels(labels, ['le', '+Inf'])} ${count}`);
      out.push(`${this.name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
      out.push(`${this.name}_count${formatLabels(labels)} ${count}`);
    }
  }
}

export class MetricRegistry {
  readonly #families: Family[] = [];

  #add<T extends Family>(f: T): T {
    if (!NAME.test(f.name)) throw new Error(`"${f.name}" is not a valid metric name`);
    if (this.#families.some((x) => x.name === f.name)) throw new Error(`metric ${f.name} is defined twice`);
    this.#families.push(f);
    return f;
  }

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.#add(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  /** The exposition text: HELP and TYPE for every family, then its samples. */
  render(): string {
    const out: string[] = [];
    for (const f of this.#families) {
      out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      out.push(`# TYPE ${f.name} ${f.kind}`);
      f.render(out);
    }
    return `${out.join('\n')}\n`;
  }
}

/** Content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
