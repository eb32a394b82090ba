// Throughput of the Prometheus text parser on ~20 MB of CometBFT- and node_exporter-style text.
// Prints one JSON line per mode (full parse, and the scrape source's keep-a-few-names mode).

import {
  type ParseResult,
  PrometheusTextParser,
  parsePrometheusText,
} from '../src/metrics/prom-text-parser.ts';

const TARGET_BYTES = 20 * 1024 * 1024;
const WARMUP_RUNS = 2;
const MEASURED_RUNS = 7;

/** Deterministic generator so every run parses the same body. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(42);
const hex = (n: number): string => {
  let s = '';
  for (let k = 0; k < n; k++) s += Math.floor(random() * 16).toString(16);
  return s;
};
const gaugeValue = (): string => (random() * 1e6).toFixed(Math.floor(random() * 4));
const bigValue = (): string => (random() * 1e12).toExponential(9);

const BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

interface Family {
  readonly help: string;
  readonly type: string;
  readonly lines: string[];
}

/** Families in exposition order; each `# HELP`/`# TYPE` pair is written once, as a real body has it. */
const families = new Map<string, Family>();
let generatedBytes = 0;
function series(family: string, type: string, help: string, line: string): void {
  let f = families.get(family);
  if (f === undefined) {
    f = { help, type, lines: [] };
    families.set(family, f);
  }
  f.lines.push(line);
  generatedBytes += line.length + 1;
}

function histogram(name: string, help: string, labels: string): void {
  let count = 0;
  for (const le of BUCKETS) {
    count += Math.floor(random() * 100);
    series(name, 'histogram', help, `${name}_bucket{${labels},le="${le}"} ${count}`);
  }
  series(name, 'histogram', help, `${name}_sum{${labels}} ${(random() * count).toFixed(6)}`);
  series(name, 'histogram', help, `${name}_count{${labels}} ${count}`);
}

/** What one CometBFT node with node_exporter beside it exposes (distinguished by its labels). */
function node(index: number): void {
  const chain = `chain_id="testnet-${index % 3}",moniker="sentry-${index}"`;
  series(
    'cometbft_consensus_height',
    'gauge',
    'Height of the chain.',
    `cometbft_consensus_height{${chain}} ${1_000_000 + index}`,
  );
  series(
    'cometbft_consensus_validators',
    'gauge',
    'Number of validators.',
    `cometbft_consensus_validators{${chain}} 150`,
  );
  series(
    'cometbft_p2p_peers',
    'gauge',
    'Number of peers.',
    `cometbft_p2p_peers{${chain}} ${Math.floor(random() * 50)}`,
  );
  series(
    'cometbft_mempool_size',
    'gauge',
    'Number of uncommitted transactions in the mempool.',
    `cometbft_mempool_size{${chain}} ${Math.floor(random() * 5000)}`,
  );
  histogram('cometbft_consensus_block_interval_seconds', 'Time between this and the last block.', chain);
  for (let p = 0; p < 20; p++) {
    const peer = hex(40);
    for (const ch of ['0x20', '0x21', '0x22', '0x30', '0x38', '0x40']) {
      series(
        'cometbft_p2p_peer_receive_bytes_total',
        'counter',
        'Number of bytes received from a given peer.',
        `cometbft_p2p_peer_receive_bytes_total{${chain},chID="${ch}",peer_id="${peer}"} ${bigValue()}`,
      );
    }
  }
  const instance = `instance="10.0.${index >> 8}.${index & 255}:9100"`;
  for (let cpu = 0; cpu < 8; cpu++) {
    for (const mode of ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user']) {
      series(
        'node_cpu_seconds_total',
        'counter',
        'Seconds the CPUs spent in each mode.',
        `node_cpu_seconds_total{cpu="${cpu}",${instance},mode="${mode}"} ${gaugeValue()}`,
      );
    }
  }
  for (const [device, fstype, mountpoint] of [
    ['/dev/nvme0n1p2', 'ext4', '/'],
    ['/dev/nvme1n1', 'xfs', '/var/lib/cometbft'],
    ['tmpfs', 'tmpfs', '/run'],
  ]) {
    series(
      'node_filesystem_avail_bytes',
      'gauge',
      'Filesystem space available to non-root users in bytes.',
      `node_filesystem_avail_bytes{device="${device}",fstype="${fstype}",${instance},mountpoint="${mountpoint}"} ${bigValue()}`,
    );
  }
  series('node_load1', 'gauge', '1m load average.', `node_load1{${instance}} ${(random() * 8).toFixed(2)}`);
  for (const device of ['eth0', 'eth1', 'lo', 'docker0']) {
    series(
      'node_network_receive_bytes_total',
      'counter',
      'Network device statistic receive_bytes.',
      `node_network_receive_bytes_total{device="${device}",${instance}} ${bigValue()}`,
    );
  }
  const gc = 'A summary of the pause duration of garbage collection cycles.';
  for (const q of ['0', '0.25', '0.5', '0.75', '1']) {
    series(
      'go_gc_duration_seconds',
      'summary',
      gc,
      `go_gc_duration_seconds{${instance},quantile="${q}"} ${(random() / 1000).toExponential(4)}`,
    );
  }
  series('go_gc_duration_seconds', 'summary', gc, `go_gc_duration_seconds_sum{${instance}} 0.5123`);
  series('go_gc_duration_seconds', 'summary', gc, `go_gc_duration_seconds_count{${instance}} ${index * 7}`);
  series(
    'process_start_time_seconds',
    'gauge',
    'Start time of the process since unix epoch in seconds.',
    `process_start_time_seconds{${instance}} ${1.7e9 + index} 1700000000000`,
  );
  series(
    'node_scrape_collector_success',
    'gauge',
    'node_exporter: Whether a collector succeeded.',
    `node_scrape_collector_success{collector="hwmon",error="path \\"/sys\\" missing\\n",${instance}} NaN`,
  );
}

function generate(): string {
  for (let index = 0; generatedBytes < TARGET_BYTES; index++) node(index);
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.lines);
  }
  return out.join('\n') + '\n';
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

type Parse = () => ParseResult;

function measure(label: string, bytes: number, parse: Parse): void {
  const times: number[] = [];
  let samples = 0;
  let errors = 0;
  for (let run = 0; run < WARMUP_RUNS + MEASURED_RUNS; run++) {
    const start = performance.now();
    const result = parse();
    const elapsed = performance.now() - start;
    if (run >= WARMUP_RUNS) times.push(elapsed);
    samples = result.samples.length;
    errors = result.errorCount;
  }
  const medianMs = median(times);
  const line = {
    bench: label,
    mbPerSec: Number((bytes / 1e6 / (medianMs / 1000)).toFixed(1)),
    medianMs: Number(medianMs.toFixed(1)),
    bytes,
    runs: MEASURED_RUNS,
    samples,
    errors,
  };
  console.log(JSON.stringify(line));
}

// A flat string, as a decoded response body is (the generator's joins leave a rope).
const text = Buffer.from(generate(), 'utf8').toString('utf8');
const body = Buffer.from(text, 'utf8');
const bytes = body.length;
const SCRAPE_NAMES = [
  'cometbft_consensus_height',
  'cometbft_p2p_peers',
  'node_load1',
  'cometbft_consensus_block_interval_seconds_bucket',
];
const CHUNK_BYTES = 64 * 1024;

measure('prom-text-parse', bytes, () => parsePrometheusText(text));
measure('prom-text-parse-filtered', bytes, () => parsePrometheusText(text, { names: SCRAPE_NAMES }));
// What the scrape source does: decode the body as it arrives and feed the parser chunk by chunk.
measure('prom-text-parse-streamed-filtered', bytes, () => {
  const parser = new PrometheusTextParser({ names: SCRAPE_NAMES });
  const decoder = new TextDecoder('utf-8');
  for (let k = 0; k < body.length; k += CHUNK_BYTES) {
    parser.push(decoder.decode(body.subarray(k, k + CHUNK_BYTES), { stream: true }));
  }
  parser.push(decoder.decode());
  return parser.end();
});
