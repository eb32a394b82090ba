import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type DetectSettings,
  type DetectState,
  initialDetectState,
  observeValidator,
  type Transition,
  type ValidatorPoll,
} from './detect.ts';

const S: DetectSettings = { unreachableForMs: 10_000, heightStalledForMs: 30_000, missedBlocks: 5 };

/** Runs polls every 2 s from t=0; returns the transitions and the final state. */
function run(polls: Omit<ValidatorPoll, 'at'>[], settings = S) {
  let state: DetectState = initialDetectState(0);
  const transitions: Transition[] = [];
  polls.forEach((p, i) => {
    const r = observeValidator(state, { ...p, at: (i + 1) * 2000 }, settings);
    state = r.state;
    if (r.transition) transitions.push(r.transition);
  });
  return { state, transitions };
}

const up = (height: number, network = height, signed = [true, true, true, true, true]) => ({
  reachable: true,
  height,
  networkHeight: network,
  signed,
});
const unreachable = (network: number) => ({
  reachable: false,
  error: 'ECONNREFUSED',
  networkHeight: network,
  signed: [false, false, false, false, false],
});

describe('validator outage detection', () => {
  test('a healthy, advancing, signing validator never fires', () => {
    const { transitions, state } = run(Array.from({ length: 50 }, (_, i) => up(10 + i)));
    assert.deepEqual(transitions, []);
    assert.equal(state.status, 'healthy');
  });

  test('one failed poll fires nothing', () => {
    const { transitions } = run([up(10), { reachable: false, error: 'timeout' }, up(11), up(12)]);
    assert.deepEqual(transitions, []);
  });

  test('unreachable: suspect on the second failed poll, down once unreachableFor has passed', () => {
    const polls = [
      up(10),
      ...Array.from({ length: 8 }, (_, i) => ({ reachable: false, networkHeight: 11 + i })),
    ];
    const { transitions, state } = run(polls);
    assert.deepEqual(
      transitions.map((t) => [t.to, t.at]),
      [
        ['suspect', 6000],
        ['down', 14_000],
      ],
    );
    assert.deepEqual(transitions[1]!.conditions, ['unreachable']);
    assert.equal(transitions[1]!.evidence.unreachableForS, 10);
    assert.match(transitions[1]!.summary, /RPC unreachable for 10s/);
    assert.equal(state.status, 'down');
  });

  test('unreachable and missing from the commits: down on the second poll, both conditions named', () => {
    const { transitions } = run([up(10), unreachable(11), unreachable(12)]);
    assert.deepEqual(
      transitions.map((t) => [t.to, t.conditions]),
      [['down', ['missed-blocks']]],
    );
  });

  test('missed blocks: down when the last N commits all lack the signature (confirmed on two polls)', () => {
    const miss = [false, false, false, false, false];
    const { transitions } = run([up(10), up(11, 11, miss), up(12, 12, miss)]);
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['down'],
    );
    assert.deepEqual(transitions[0]!.conditions, ['missed-blocks']);
    assert.equal(transitions[0]!.evidence.missedInRow, 5);
  });

  test('a missed block among signed ones is only suspect, and clears', () => {
    const some = [false, false, true, true, true];
    const { transitions } = run([up(10), up(11, 11, some), up(12, 12, some), up(13), up(14)]);
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['suspect', 'recovered'],
    );
  });

  test('height stalled while the network advances: down after heightStalledFor', () => {
    const polls = [up(10), ...Array.from({ length: 20 }, (_, i) => up(10, 11 + i, [true]))];
    const { transitions } = run(polls);
    const down = transitions.find((t) => t.to === 'down');
    assert.ok(down);
    assert.deepEqual(down.conditions, ['height-stalled']);
    assert.ok(Number(down.evidence.stalledForS) >= 30);
  });

  test('a halted network is not a stalled validator', () => {
    const { transitions } = run(Array.from({ length: 30 }, () => up(10, 10)));
    assert.deepEqual(transitions, []);
  });

  test('recovery: two clean polls after down, with the evidence', () => {
    const polls = [
      up(10),
      ...Array.from({ length: 7 }, () => ({ reachable: false })),
      up(20, 20),
      up(21, 21),
    ];
    const { transitions, state } = run(polls);
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['suspect', 'down', 'recovered'],
    );
    assert.equal(transitions[2]!.from, 'down');
    assert.equal(state.status, 'healthy');
  });

  test('property: never down before a condition held for its span, never on a single poll', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            reachable: fc.boolean(),
            height: fc.integer({ min: 1, max: 50 }),
            networkHeight: fc.integer({ min: 1, max: 60 }),
            signed: fc.array(fc.boolean(), { minLength: 0, maxLength: 6 }),
          }),
          { maxLength: 40 },
        ),
        (polls) => {
          const { transitions } = run(polls);
          for (const t of transitions) {
            if (t.to !== 'down') continue;
            const i = t.at / 2000 - 1;
            // The poll before also failed: no single-poll verdicts.
            const before = polls[i - 1];
            assert.ok(before !== undefined);
            if (t.conditions.includes('unreachable')) assert.ok(Number(t.evidence.unreachableForS) >= 10);
            if (t.conditions.includes('missed-blocks')) assert.ok(Number(t.evidence.missedInRow) >= 5);
            if (t.conditions.includes('height-stalled')) assert.ok(Number(t.evidence.stalledForS) >= 30);
          }
          // Transitions alternate sensibly: never down twice in a row without recovering.
          let last = 'healthy';
          for (const t of transitions) {
            assert.notEqual(t.to, last);
            last = t.to === 'recovered' ? 'healthy' : t.to;
          }
        },
      ),
    );
  });
});
