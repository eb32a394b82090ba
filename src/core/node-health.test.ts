import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DOWN, node, policy, READY, SYNCING, T0 } from '../../test/support/decide-fixtures.ts';
import { assessNodeHealth, healthCheckDue, type NodeHealth } from './node-health.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import type { NodeUpdate } from './pool-plan.ts';
import type { NodeProbe } from './types.ts';

const health = policy().health; // checkInterval 10s, failTolerance 20, joinTimeout 10m
const UNHEALTHY: NodeProbe = { reachable: true, ready: true, healthy: false, detail: 'lagging' };
const REACHABLE: NodeProbe = { reachable: true, ready: false, healthy: false };

describe('healthCheckDue', () => {
  const cases: { name: string; last: number | undefined; now: number; due: boolean }[] = [
    { name: 'never checked', last: undefined, now: T0, due: true },
    { name: 'checkInterval ago', last: T0 - 10_000, now: T0, due: true },
    { name: 'less than checkInterval ago', last: T0 - 9_999, now: T0, due: false },
    { name: 'just checked', last: T0, now: T0, due: false },
  ];
  for (const c of cases) test(c.name, () => assert.equal(healthCheckDue(health, c.last, c.now), c.due));
});

describe('one node through lifecycle and health', () => {
  /** Where the node ended up: `ready`, `busy` (joining or leaving), or neither. */
  type Place = 'ready' | 'busy' | 'none';
  const cases: {
    name: string;
    node: NodeRecord;
    probe: NodeProbe | undefined;
    healthDue?: boolean;
    now?: number;
    /** The update emitted, or undefined for none. */
    update: NodeUpdate | undefined;
    place: Place;
    suspect?: boolean;
    leaving?: number;
    live?: number;
  }[] = [
    {
      name: 'a ready node still ready and healthy, marker 0: nothing changes',
      node: node('n1', 'ready', { stateReason: 'ready' }),
      probe: READY,
      update: undefined,
      place: 'ready',
    },
    {
      name: 'a failed check adds 5 to the marker',
      node: node('n1'),
      probe: UNHEALTHY,
      update: { id: 'n1', state: 'ready', failMarker: 5, readyAt: T0 - 3_000_000, stateReason: 'ready' },
      place: 'ready',
    },
    {
      name: 'a passed check takes 1 off the marker',
      node: node('n1', 'ready', { failMarker: 3 }),
      probe: READY,
      update: { id: 'n1', state: 'ready', failMarker: 2, readyAt: T0 - 3_000_000, stateReason: 'ready' },
      place: 'ready',
    },
    {
      name: 'no check due: the marker stays',
      node: node('n1', 'ready', { failMarker: 3, stateReason: 'ready' }),
      probe: UNHEALTHY,
      healthDue: false,
      update: undefined,
      place: 'ready',
    },
    {
      name: 'a node without a probe fails the check but keeps its state',
      node: node('n1', 'ready', { stateReason: 'ready' }),
      probe: undefined,
      update: { id: 'n1', state: 'ready', failMarker: 5, readyAt: T0 - 3_000_000, stateReason: 'ready' },
      place: 'ready',
    },
    {
      name: 'a ready node without readyAt (never stamped) gets it now',
      node: node('n1', 'ready', { readyAt: undefined, stateReason: 'ready' }),
      probe: READY,
      now: T0 + 1_000,
      update: { id: 'n1', state: 'ready', failMarker: 0, readyAt: T0 + 1_000, stateReason: 'ready' },
      place: 'ready',
    },
    {
      name: 'a marker past failTolerance makes the node a suspect',
      node: node('n1', 'ready', { failMarker: 20 }),
      probe: UNHEALTHY,
      update: { id: 'n1', state: 'ready', failMarker: 25, readyAt: T0 - 3_000_000, stateReason: 'ready' },
      place: 'ready',
      suspect: true,
    },
    {
      name: 'a ready node that falls behind goes back to syncing and stops counting',
      node: node('n1', 'ready', { stateReason: 'ready' }),
      probe: SYNCING,
      update: {
        id: 'n1',
        state: 'syncing',
        failMarker: 0,
        readyAt: T0 - 3_000_000,
        stateReason: 'catching up',
      },
      place: 'busy',
    },
    {
      name: 'a syncing node whose probe says ready becomes ready, readyAt stamped now',
      node: node('n1', 'syncing', { joinStartedAt: T0 - 60_000 }),
      probe: READY,
      now: T0 + 1_000,
      update: { id: 'n1', state: 'ready', failMarker: 0, readyAt: T0 + 1_000, stateReason: 'ready' },
      place: 'ready',
    },
    {
      name: 'a reachable provisioning node moves on to syncing',
      node: node('n1', 'provisioning', { joinStartedAt: T0 - 60_000 }),
      probe: REACHABLE,
      update: { id: 'n1', state: 'syncing', failMarker: 0, readyAt: undefined, stateReason: 'not ready' },
      place: 'busy',
    },
    {
      name: 'a node that never joined is not health-checked, and a new reason alone is no update',
      node: node('n1', 'provisioning', { joinStartedAt: T0 - 60_000 }),
      probe: DOWN,
      update: undefined,
      place: 'busy',
    },
    {
      name: 'a join past joinTimeout makes the node a suspect',
      node: node('n1', 'syncing', { joinStartedAt: T0 - 600_001, stateReason: 'catching up' }),
      probe: SYNCING,
      update: undefined,
      place: 'busy',
      suspect: true,
    },
    {
      name: 'a join at joinTimeout exactly is not yet late',
      node: node('n1', 'syncing', { joinStartedAt: T0 - 600_000, stateReason: 'catching up' }),
      probe: SYNCING,
      update: undefined,
      place: 'busy',
    },
    {
      name: 'a draining node is leaving: busy, never checked, never a suspect',
      node: node('n1', 'draining', { readyAt: T0 - 3_000_000, failMarker: 30 }),
      probe: DOWN,
      update: undefined,
      place: 'busy',
      leaving: 1,
    },
    {
      name: 'a deleting node is leaving too',
      node: node('n1', 'deleting', { readyAt: T0 - 3_000_000 }),
      probe: READY,
      update: undefined,
      place: 'busy',
      leaving: 1,
    },
    {
      name: 'a node stopped for maintenance is neither checked nor capacity',
      node: node('n1', 'ready', { maintenance: 'snapshot s1' }),
      probe: DOWN,
      update: {
        id: 'n1',
        state: 'syncing',
        failMarker: 0,
        readyAt: T0 - 3_000_000,
        stateReason: 'unreachable',
      },
      place: 'busy',
    },
    {
      name: 'a node stopped for maintenance that probes ready counts, unchecked',
      node: node('n1', 'ready', { maintenance: 'snapshot s1', failMarker: 3, stateReason: 'ready' }),
      probe: UNHEALTHY,
      update: undefined,
      place: 'ready',
    },
    {
      name: 'a gone node is not live',
      node: node('n1', 'gone'),
      probe: READY,
      update: undefined,
      place: 'none',
      live: 0,
    },
    {
      name: 'a failed node is not live',
      node: node('n1', 'failed'),
      probe: DOWN,
      update: undefined,
      place: 'none',
      live: 0,
    },
  ];
  const placeOf = (h: NodeHealth): Place =>
    h.readyNodes.length > 0 ? 'ready' : h.busy.length > 0 ? 'busy' : 'none';
  for (const c of cases)
    test(c.name, () => {
      const probes = new Map(c.probe ? [[c.node.id, c.probe]] : []);
      const h = assessNodeHealth([c.node], probes, health, c.healthDue ?? true, c.now ?? T0);
      assert.deepEqual(h.updates, c.update ? [c.update] : []);
      assert.equal(placeOf(h), c.place);
      assert.deepEqual(h.readyIds, c.place === 'ready' ? [c.node.id] : []);
      assert.deepEqual(
        h.suspects.map((n) => n.id),
        c.suspect ? [c.node.id] : [],
      );
      assert.equal(h.leaving, c.leaving ?? 0);
      assert.equal(h.live, c.live ?? 1);
      // The records handed on carry the update.
      const handed = [...h.readyNodes, ...h.busy][0];
      if (c.update && handed) assert.equal(handed.failMarker, c.update.failMarker);
      if (!c.update && c.node.stateReason !== undefined && handed)
        assert.equal(handed, c.node, 'same record');
    });
});

describe('a pool of nodes', () => {
  const nodes = [
    node('n1'),
    node('n2', 'syncing', { joinStartedAt: T0 - 60_000 }),
    node('n3', 'draining'),
    node('n4', 'gone'),
    node('n5', 'ready', { failMarker: 18 }),
    node('n6', 'provisioning', { joinStartedAt: T0 - 700_000 }),
  ];
  const probes: [string, NodeProbe][] = [
    ['n1', READY],
    ['n2', READY],
    ['n3', READY],
    ['n4', READY],
    ['n5', DOWN],
    ['n6', DOWN],
  ];
  const orders: { name: string; probes: [string, NodeProbe][] }[] = [
    { name: 'probes in the nodes’ order', probes },
    { name: 'probes in reverse order', probes: [...probes].reverse() },
    { name: 'probes with some missing and the rest shuffled', probes: [probes[4]!, probes[0]!, probes[2]!] },
  ];
  const expected = (given: ReadonlyMap<string, NodeProbe>): NodeHealth =>
    // Node by node, each on its own: what the pool's walk must agree with.
    nodes.reduce<NodeHealth>(
      (sum, n) => {
        const one = assessNodeHealth(
          [n],
          new Map(given.has(n.id) ? [[n.id, given.get(n.id)!]] : []),
          health,
          true,
          T0,
        );
        return {
          live: sum.live + one.live,
          readyIds: [...sum.readyIds, ...one.readyIds],
          readyNodes: [...sum.readyNodes, ...one.readyNodes],
          busy: [...sum.busy, ...one.busy],
          leaving: sum.leaving + one.leaving,
          suspects: [...sum.suspects, ...one.suspects],
          updates: [...sum.updates, ...one.updates],
        };
      },
      { live: 0, readyIds: [], readyNodes: [], busy: [], leaving: 0, suspects: [], updates: [] },
    );
  for (const o of orders)
    test(`${o.name}: each node gets its own probe, lists keep the nodes' order`, () => {
      const given = new Map(o.probes);
      const h = assessNodeHealth(nodes, given, health, true, T0);
      assert.deepEqual(h, expected(given));
    });

  test('what the later steps are handed', () => {
    const h = assessNodeHealth(nodes, new Map(probes), health, true, T0);
    assert.equal(h.live, 5);
    assert.deepEqual(h.readyIds, ['n1', 'n2']);
    assert.deepEqual(
      h.busy.map((n) => n.id),
      ['n3', 'n5', 'n6'],
    );
    assert.equal(h.leaving, 1);
    assert.deepEqual(
      h.suspects.map((n) => `${n.id} ${n.failMarker}`),
      ['n5 23', 'n6 0'],
      'n5 failed its check past the tolerance; n6 is past its join timeout',
    );
  });
});
