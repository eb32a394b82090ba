// The aws provider against moto (a real AWS API emulator from PyPI): the provider contract,
// exact scale-in, the group's MaxSize, instances the group launched by itself, lifecycle
// hooks, the boot script, and API faults injected by a proxy in front of moto (throttling,
// 5xx, answers lost after the call took effect): retries, a clear report, no instance twice,
// never more than max. No log line or error ever holds the secret key.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  type Instance as Ec2Instance,
} from '@aws-sdk/client-ec2';
import pino from 'pino';
import { simnodeKind } from '../../src/nodes/simnode/simnode-kind.ts';
import { AwsProvider, type AwsProviderOptions, TAGS } from '../../src/providers/aws/aws-provider.ts';
import type { CreateRequest, Instance } from '../../src/providers/provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { type FaultProxy, startFaultProxy } from '../support/aws-fault-proxy.ts';
import {
  createMotoGroup,
  MOTO_CREDENTIALS,
  motoClients,
  motoForFile,
  resetMoto,
} from '../support/moto-group.ts';

const moto = motoForFile();

/** Every log line and error message of this file: none may hold the secret key. */
const transcript: string[] = [];
function capturingLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      transcript.push(String(chunk));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    transcript.push((e as Error).message);
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const FAST_RETRY = { attempts: 5, baseDelayMs: 20, maxDelayMs: 200, callTimeoutMs: 1000 };

async function freshGroup(maxSize: number, hooks?: ('launching' | 'terminating')[]): Promise<string> {
  await resetMoto(moto.server()!.url);
  const group = `sentries-${shortId()}`;
  await createMotoGroup(moto.server()!.url, { group, maxSize, hooks });
  return group;
}

function makeProvider(group: string, over: Partial<AwsProviderOptions> = {}): AwsProvider {
  return new AwsProvider({
    name: 'cloud',
    region: 'us-east-1',
    autoScalingGroup: group,
    endpoint: moto.server()!.url,
    ports: { rpc: 26657, metrics: 26660 },
    retry: FAST_RETRY,
    pool: 'sentries',
    ...over,
  });
}

function request(over: Partial<CreateRequest> = {}): CreateRequest {
  return {
    nodeId: `sentries-${shortId()}`,
    pool: 'sentries',
    actionId: `a-${shortId()}`,
    term: 3,
    kind: simnodeKind,
    launch: { role: 'sentry', upstream: [], options: {} },
    ...over,
  };
}

/** The group as moto holds it, read directly (not through the proxy). */
async function groupState(group: string) {
  const { asg } = motoClients(moto.server()!.url);
  const g = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] })))
    .AutoScalingGroups![0]!;
  return { desired: g.DesiredCapacity!, members: (g.Instances ?? []).map((i) => i.InstanceId!).sort() };
}

/** Every instance tagged for the group that is not terminated or shutting down, read directly. */
async function liveTagged(group: string): Promise<Ec2Instance[]> {
  const { ec2 } = motoClients(moto.server()!.url);
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${TAGS.group}`, Values: [group] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

providerContract(
  'aws (moto)',
  async () => {
    const group = await freshGroup(10);
    return {
      provider: () => makeProvider(group),
      kind: simnodeKind,
      cleanup: async () => undefined,
    };
  },
  { skip: moto.skip },
);

describe('aws provider on moto', { skip: moto.skip }, () => {
  test('instances are tagged at launch and attached: desired capacity counts them', async () => {
    const group = await freshGroup(5);
    const p = makeProvider(group);
    const req = request();
    const made = await p.create(req);
    assert.match(made.host, /^10\.0\.1\.\d+$/, 'the private IP is the address by default');
    const [ec2] = await liveTagged(group);
    const tags = Object.fromEntries((ec2!.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
    assert.equal(tags[TAGS.node], req.nodeId);
    assert.equal(tags[TAGS.pool], 'sentries');
    assert.equal(tags[TAGS.action], req.actionId);
    assert.equal(tags[TAGS.term], '3');
    assert.deepEqual(await groupState(group), { desired: 1, members: [made.id] });
  });

  test('scale-in terminates exactly the chosen instance and lowers the desired capacity', async () => {
    const group = await freshGroup(5);
    const p = makeProvider(group);
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await p.create(request()));
    const chosen = made[1]!;
    await p.destroy(chosen);
    const state = await groupState(group);
    assert.deepEqual(
      state.members,
      [made[0]!.id, made[2]!.id].sort(),
      'the other two stay, nothing replaces it',
    );
    assert.equal(state.desired, 2);
    const running = (await p.list())
      .filter((i) => i.running)
      .map((i) => i.id)
      .sort();
    assert.deepEqual(running, [made[0]!.id, made[2]!.id].sort());
    assert.ok(
      !(await liveTagged(group)).some((i) => i.InstanceId === chosen.id),
      'the chosen one is terminated',
    );
  });

  test("the group's MaxSize is a hard ceiling: a create beyond it is refused and leaves nothing", async () => {
    const group = await freshGroup(2);
    const p = makeProvider(group);
    await p.create(request());
    await p.create(request());
    const err = await rejection(p.create(request()));
    assert.match(err.message, new RegExp(`RunInstances on Auto Scaling group ${group}`));
    assert.match(err.message, /MaxSize is 2: refusing to launch/);
    assert.equal((await liveTagged(group)).length, 2);
    assert.equal((await groupState(group)).desired, 2);
  });

  test('an instance the group launched by itself is listed as unmanaged, for the orphan cleanup', async () => {
    const group = await freshGroup(5);
    const p = makeProvider(group);
    const ours = await p.create(request());
    const { asg } = motoClients(moto.server()!.url);
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }));
    const listed = await p.list();
    const foreign = listed.filter((i) => i.id !== ours.id);
    assert.equal(foreign.length, 1);
    assert.equal(foreign[0]!.nodeId, `unmanaged-${foreign[0]!.id}`);
    assert.equal(foreign[0]!.pool, 'sentries');
    await p.destroy(foreign[0]!);
    assert.deepEqual(await groupState(group), { desired: 1, members: [ours.id] });
  });

  test('lifecycle hooks: stored by moto, completed by Rampart where the endpoint can, reported where not', async () => {
    const group = await freshGroup(5, ['launching', 'terminating']);
    const { log, lines } = capturingLog();
    const p = makeProvider(group, { log });
    const made = await p.create(request());
    await p.destroy(made);
    // moto 5.2.5 stores hooks but has no CompleteLifecycleAction: the termination still
    // happened, and the log says which hook was left to its timeout, once per hook.
    assert.deepEqual(await groupState(group), { desired: 0, members: [] });
    const warned = lines.filter((l) => l.includes('not completed'));
    assert.ok(
      warned.some((l) => l.includes('rampart-launching')),
      `launch hook reported: ${lines.join('')}`,
    );
    assert.ok(
      warned.some((l) => l.includes('rampart-terminating')),
      'terminate hook reported',
    );
    const completeCalls = lines.filter(
      (l) => l.includes('CompleteLifecycleAction') && l.includes('retrying'),
    );
    assert.ok(completeCalls.length <= 1, 'an endpoint without the call is not asked over and over');
  });

  test('the boot script goes as user data: identity and the snapshot to restore', async () => {
    const group = await freshGroup(5);
    const p = makeProvider(group, {
      userData: { dataDir: '/var/lib/cometbft', command: 'systemctl start cometbft' },
    });
    const url = 's3://rampart-snapshots/mainnet/sentry-snapshots/20261122-010203000-abc123/';
    const req = request({
      launch: {
        role: 'sentry',
        upstream: [],
        options: {},
        snapshot: { id: '20261122-010203000-abc123', height: 1234, url, restoreInto: async () => undefined },
      },
    });
    const made = await p.create(req);
    const { ec2 } = motoClients(moto.server()!.url);
    const attr = await ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: made.id, Attribute: 'userData' }),
    );
    const script = Buffer.from(attr.UserData!.Value!, 'base64').toString('utf8');
    assert.match(script, /^#!\/bin\/sh\n/);
    assert.ok(script.includes(`RAMPART_NODE_ID='${req.nodeId}'`));
    assert.ok(script.includes(`snapshot='${url}'`));
    assert.ok(script.trimEnd().endsWith('systemctl start cometbft'));
    const [tagged] = await liveTagged(group);
    assert.equal(tagged!.Tags!.find((tag) => tag.Key === TAGS.snapshot)?.Value, url);
  });
});

describe('aws provider behind a fault proxy', { skip: moto.skip }, () => {
  let proxy!: FaultProxy;
  before(async () => {
    proxy = await startFaultProxy(moto.server().url);
  });
  after(async () => {
    await proxy?.close();
  });

  // Every provider behind the proxy logs into the transcript, so its retry lines are checked too.
  const faulty = (group: string, log = capturingLog().log) =>
    makeProvider(group, { endpoint: proxy!.url, log });

  test('throttling and 5xx are retried with backoff and logged, naming the call and the group', async () => {
    const group = await freshGroup(5);
    const { log, lines } = capturingLog();
    proxy.clear();
    proxy.inject({ call: 'RunInstances', fault: 'throttle', times: 2 });
    proxy.inject({ call: 'AttachInstances', fault: 'unavailable', times: 1 });
    const made = await faulty(group, log).create(request());
    proxy.clear();
    assert.equal((await liveTagged(group)).length, 1);
    assert.deepEqual((await groupState(group)).members, [made.id]);
    const retries = lines.filter((l) => l.includes('retrying'));
    assert.equal(retries.filter((l) => l.includes('RequestLimitExceeded')).length, 2, lines.join(''));
    assert.ok(retries.some((l) => l.includes('AttachInstances') && l.includes('HTTP 503')));
    assert.ok(retries.every((l) => l.includes(group)));
  });

  test('a RunInstances answer lost after the launch does not launch a second instance', async () => {
    const group = await freshGroup(5);
    proxy.clear();
    proxy.inject({ call: 'RunInstances', fault: 'timeout-after', times: 1 });
    const req = request();
    const made = await faulty(group).create(req);
    proxy.clear();
    const live = await liveTagged(group);
    assert.equal(live.length, 1, 'exactly one instance for the request');
    assert.equal(live[0]!.InstanceId, made.id);
    assert.deepEqual(await groupState(group), { desired: 1, members: [made.id] });
  });

  test('lost answers of AttachInstances and of the terminate change nothing twice', async () => {
    const group = await freshGroup(5);
    const p = faulty(group);
    proxy.clear();
    proxy.inject({ call: 'AttachInstances', fault: 'timeout-after', times: 1 });
    const a = await p.create(request());
    const b = await p.create(request());
    assert.deepEqual(await groupState(group), { desired: 2, members: [a.id, b.id].sort() });
    proxy.inject({ call: 'TerminateInstanceInAutoScalingGroup', fault: 'timeout-after', times: 1 });
    await p.destroy(a);
    proxy.clear();
    assert.deepEqual(await groupState(group), { desired: 1, members: [b.id] }, 'decremented once');
  });

  test('an API that stays down gets a clear report, and no instance is left behind', async () => {
    const group = await freshGroup(5);
    proxy.clear();
    proxy.inject({ fault: 'unavailable' });
    const p = faulty(group);
    const createErr = await rejection(p.create(request({ nodeId: 'sentries-doomed' })));
    assert.match(
      createErr.message,
      new RegExp(
        `aws provider cloud: \\w+ on Auto Scaling group ${group} \\(node sentries-doomed\\) failed: \\w+ \\(HTTP 503\\): .*; gave up after 5 tries`,
      ),
    );
    const listErr = await rejection(p.list());
    assert.match(listErr.message, /gave up after 5 tries/);
    proxy.clear();
    // Attach down after a good launch: the launched instance is terminated, not orphaned.
    proxy.inject({ call: 'AttachInstances', fault: 'internal' });
    const attachErr = await rejection(p.create(request()));
    proxy.clear();
    assert.match(attachErr.message, /AttachInstances .* failed: InternalFailure \(HTTP 500\)/);
    assert.match(attachErr.message, /terminated i-\w+, which it had launched/);
    assert.equal((await liveTagged(group)).length, 0);
  });

  test('under random faults on every call, never more instances than max', async (t) => {
    const max = 3;
    const group = await freshGroup(10); // the group's own ceiling is not what holds here
    const p = faulty(group);
    proxy.clear();
    for (const fault of ['throttle', 'unavailable', 'timeout-after'] as const)
      proxy.inject({ fault, probability: 0.12 });
    const seen: number[] = [];
    let failures = 0;
    for (let round = 0; round < 24; round++) {
      // The controller's rule: create only while the listing shows fewer than max.
      let listing: Instance[];
      try {
        listing = (await p.list()).filter((i) => i.running);
      } catch (e) {
        transcript.push((e as Error).message);
        failures++;
        continue;
      }
      try {
        if (listing.length < max) await p.create(request());
        else await p.destroy(listing[round % listing.length]!);
      } catch (e) {
        transcript.push((e as Error).message);
        failures++;
      }
      seen.push((await liveTagged(group)).length);
    }
    proxy.clear();
    const faults = proxy.calls.filter((c) => c.fault !== undefined).length;
    assert.ok(faults > 5, `faults were injected (${faults})`);
    assert.ok(Math.max(...seen) <= max, `instances seen per round: ${seen.join(' ')} (max ${max})`);
    assert.ok(
      seen.some((n) => n === max),
      'the pool did reach max despite the faults',
    );
    t.diagnostic(`rounds with a failed call: ${failures}; faults injected: ${faults}`);
  });

  test('no log line or error message holds the secret key', (t) => {
    assert.ok(transcript.length > 10, 'the other tests produced messages to check');
    assert.equal(process.env.AWS_SECRET_ACCESS_KEY, MOTO_CREDENTIALS.AWS_SECRET_ACCESS_KEY);
    for (const line of transcript) assert.ok(!line.includes(MOTO_CREDENTIALS.AWS_SECRET_ACCESS_KEY), line);
    t.diagnostic(`${transcript.length} log lines and error messages checked`);
  });
});
