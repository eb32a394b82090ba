// The contract every MetricSource passes — scrape, prometheus, netdata and kubernetes
// (metrics.k8s.io): each node's value comes back under the rule's ref, mapped to its node; a
// node the endpoint knows nothing of gets no sample (never another node's); an unreachable
// endpoint, a foreign ref and the caller's abort are error entries, never a throw, so the
// decisions that need the missing samples hold; an endless body is refused at MAX_BODY_BYTES,
// never held whole. Each source's test file calls
// metricSourceContract with a bed that serves given values in that source's own protocol.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { formatBytes, MAX_BODY_BYTES } from '../../src/metrics/http-fetch.ts';
import type { CollectResult, MetricSource, MetricTarget } from '../../src/metrics/metric-source.ts';

export interface ServedSource {
  readonly source: MetricSource;
  /** The ref a rule writes to read the contract's metric from this source. */
  readonly ref: string;
  /** One target per node of `values`, as observe builds them for this source. */
  readonly targets: MetricTarget[];
}

export interface MetricSourceBed {
  /**
   * Serves, in the source's protocol, `values[node]` as the contract's metric for each node; a
   * node whose value is null is a target whose endpoint has no such metric.
   */
  serving(values: Readonly<Record<string, number | null>>): Promise<ServedSource>;
  /** The same source and targets, with the endpoint on a port nothing listens on. */
  unreachable(nodes: readonly string[]): Promise<ServedSource>;
  /**
   * The same source and targets, with an endpoint that answers 200 and then sends a body that
   * never ends (streamEndlessly): well-formed so far, in the source's protocol. The source is
   * built with a timeout of ENDLESS_TIMEOUT_MS, so that only a cap can end the read in time.
   */
  endless(nodes: readonly string[]): Promise<ServedSource>;
}

/** The timeout of an `endless` bed's source: far longer than reading MAX_BODY_BYTES takes. */
export const ENDLESS_TIMEOUT_MS = 60_000;

/** Writes `head`, then `chunk` again and again (as fast as the reader takes it) until the reader leaves. */
export function streamEndlessly(response: ServerResponse, head: string, chunk: string): void {
  let open = true;
  response.on('close', () => {
    open = false;
  });
  response.write(head);
  const pump = (): void => {
    while (open && response.write(chunk));
    if (open) response.once('drain', pump);
  };
  pump();
}

const rows = (r: CollectResult) =>
  r.samples
    .map((s) => [s.ref, s.node, s.value] as const)
    .sort(([, a], [, b]) => String(a).localeCompare(String(b)));

export function metricSourceContract(name: string, bed: MetricSourceBed): void {
  describe(`metric source contract: ${name}`, () => {
    test("each node's value comes back under the ref, mapped to its node, with the time it was seen", async () => {
      const { source, ref, targets } = await bed.serving({ 'node-a': 3, 'node-b': 5.5 });
      const before = Date.now() - 60_000;
      const r = await source.collect([ref], targets);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(rows(r), [
        [ref, 'node-a', 3],
        [ref, 'node-b', 5.5],
      ]);
      for (const s of r.samples)
        assert.ok(Number.isFinite(s.at) && s.at >= before && s.at <= Date.now() + 60_000, `at ${s.at}`);
    });

    test('a node its endpoint knows nothing of gets no sample, and the others still do', async () => {
      const { source, ref, targets } = await bed.serving({ 'node-a': 7, 'node-gone': null });
      const r = await source.collect([ref], targets);
      assert.deepEqual(rows(r), [[ref, 'node-a', 7]]);
      // Whether the silence is an error entry is the source's to say; it never names node-a.
      for (const e of r.errors) assert.notEqual(e.target, 'node-a', e.message);
    });

    test('an unreachable endpoint is an error entry, never a throw, and gives no sample', async () => {
      const { source, ref, targets } = await bed.unreachable(['node-a']);
      const r = await source.collect([ref], targets);
      assert.deepEqual(r.samples, []);
      assert.ok(r.errors.length > 0, 'the failure is reported');
      for (const e of r.errors) assert.ok(e.message.length > 0);
    });

    test("a ref of another source is an error naming it; the source's own ref still answers", async () => {
      const { source, ref, targets } = await bed.serving({ 'node-a': 2 });
      const r = await source.collect(['elsewhere:some_metric', ref], targets);
      assert.deepEqual(rows(r), [[ref, 'node-a', 2]]);
      assert.equal(r.errors.length, 1);
      assert.match(r.errors[0]!.message, /"elsewhere:some_metric" names source "elsewhere"/);
    });

    test('an endless body is refused at MAX_BODY_BYTES, with an error naming the cap, long before the timeout', async () => {
      const { source, ref, targets } = await bed.endless(['node-a']);
      const started = Date.now();
      const r = await source.collect([ref], targets);
      assert.deepEqual(r.samples, []);
      assert.ok(r.errors.length > 0, 'the refusal is reported');
      assert.ok(
        r.errors.some((e) => e.message.includes(`body exceeds ${formatBytes(MAX_BODY_BYTES)}; refused`)),
        JSON.stringify(r.errors),
      );
      assert.ok(Date.now() - started < ENDLESS_TIMEOUT_MS / 2, 'the cap ended the read, not the timeout');
    });

    test("the caller's abort ends the collect with error entries, not a throw", async () => {
      const { source, ref, targets } = await bed.serving({ 'node-a': 1, 'node-b': 2 });
      const stop = new AbortController();
      stop.abort(new Error('the tick is over'));
      const r = await source.collect([ref], targets, stop.signal);
      assert.deepEqual(r.samples, []);
      assert.ok(r.errors.length > 0, 'the abort is reported');
    });
  });
}
