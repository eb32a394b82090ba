// The `aws` provider: a pool is an EC2 Auto Scaling group with a launch template, owned by
// Rampart. The instance listing is the source of truth: every instance Rampart launches
// carries its node id, pool, creating action and term as tags, so a restarted controller
// finds exactly what runs, whoever launched it.
//
// Scale-up launches ONE instance per create request with RunInstances from the group's
// launch template, tagged at creation (TagSpecifications: the tags exist from the instance's
// first moment, atomically), then attaches it to the group with AttachInstances (which adds
// one to the desired capacity, and which AWS refuses beyond the group's MaxSize). Rejected:
// raising the desired capacity with SetDesiredCapacity and tagging what the group launches.
// Then the group picks the instance, so which new instance answers which request is a guess
// (two requests at once, or the group replacing an unhealthy one at the same moment), and a
// controller killed between SetDesiredCapacity and the tagging leaves an untagged instance
// no intent names: an orphan, or a second launch on restart. With RunInstances the only
// window is between launch and attach, and it holds nothing untagged: a restart adopts the
// tagged instance (by its action id) or removes it. A try of RunInstances that timed out may
// still have launched: every try first looks for an instance tagged with the action id, and
// passes a ClientToken derived from it (AWS's own idempotency; emulators may ignore it).
//
// Scale-in terminates exactly the instance Rampart chose, after the node kind's drain, with
// TerminateInstanceInAutoScalingGroup and ShouldDecrementDesiredCapacity, so the group
// never launches a replacement or picks a victim of its own. An instance the group launched
// by itself (someone raised its desired capacity, or it replaced an unhealthy instance) has
// no node tags: it is listed as `unmanaged-<id>` of the group's pool, with no live node
// record, so the controller's orphan cleanup terminates it with a decrement (one there before
// the controller first acted on the pool is left running: src/controller/fleet-ownership.ts).

import { createHash } from 'node:crypto';
import {
  AttachInstancesCommand,
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type Instance as Ec2Instance,
  type Filter,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { renderBootScript } from '../boot-script.ts';
import type { RetryPolicy } from '../call-retry.ts';
import type { CreateRequest, ImageBaking, Instance, Provider } from '../provider.ts';
import { AmiBaking, type AmiImagesOptions } from './ami-baking.ts';
import { type CallOptions, callAws, DEFAULT_RETRY } from './aws-call.ts';
import { type AddressSource, instanceAddress } from './instance-address.ts';
import { LifecycleHooks } from './lifecycle-hooks.ts';

/** Tags Rampart puts on every instance it launches. */
export const TAGS = {
  node: 'rampart:node',
  pool: 'rampart:pool',
  action: 'rampart:action',
  term: 'rampart:term',
  /** The Auto Scaling group: scopes a provider's listing to its own group. */
  group: 'rampart:group',
  /** ms since the epoch, when Rampart asked for it. */
  createdAt: 'rampart:created-at',
  /** s3:// URL of the snapshot the node restores at boot, for images with their own boot script. */
  snapshot: 'rampart:snapshot',
} as const;

export interface AwsProviderOptions {
  readonly name: string;
  readonly region: string;
  readonly autoScalingGroup: string;
  /** Default: the group's own launch template and version. */
  readonly launchTemplate?: { readonly name: string; readonly version: string } | undefined;
  /** An AWS API emulator's URL (moto). Default: AWS. */
  readonly endpoint?: string | undefined;
  /** Where a node's address comes from. Default private-ip. */
  readonly address?: AddressSource | undefined;
  /** Port of each named port, the same on every instance. */
  readonly ports: Readonly<Record<string, number>>;
  readonly retry?: RetryPolicy | undefined;
  /** Boot script settings; absent: the launch template's own user data is kept. */
  readonly userData?: { readonly dataDir: string; readonly command?: string | undefined } | undefined;
  /** AMIs baked from the pool's nodes (ami-baking.ts); absent: none. */
  readonly images?: AmiImagesOptions | undefined;
  /** The pool this group serves (an instance the group launched by itself is listed under it). */
  readonly pool?: string | undefined;
  /** Hears retries and incomplete lifecycle hooks. */
  readonly log?: Logger | undefined;
}

const LIVE_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];
const RUNNING_STATES = new Set(['pending', 'running']);
const GONE_STATES = new Set(['shutting-down', 'terminated']);

function tagOf(i: Ec2Instance, key: string): string | undefined {
  return i.Tags?.find((t) => t.Key === key)?.Value;
}

/** An SDK error, marked with the call that raised it (several calls run in one try). */
function named(call: string, e: unknown): unknown {
  if (e && typeof e === 'object') Object.assign(e, { rampartCall: call });
  return e;
}

export class AwsProvider implements Provider {
  readonly kind = 'aws';
  readonly name: string;
  readonly group: string;
  readonly #ec2: EC2Client;
  readonly #asg: AutoScalingClient;
  readonly #opts: AwsProviderOptions;
  readonly #address: AddressSource;
  readonly #call: CallOptions;
  readonly #hooks: LifecycleHooks;
  readonly #subnetZones = new Map<string, string>();
  /** Actions whose create runs in this process now: their instances are not strays. */
  readonly #inFlight = new Set<string>();
  readonly images: ImageBaking | undefined;
  #secrets: string[] = [];
  #secretsLearned = false;

  constructor(opts: AwsProviderOptions) {
    this.name = opts.name;
    this.group = opts.autoScalingGroup;
    this.#opts = opts;
    this.#address = opts.address ?? 'private-ip';
    // Credentials: the SDK's standard chain (environment, shared files, SSO, instance role).
    // Retries are ours (maxAttempts 1), so each one is counted, logged and bounded.
    const client = {
      region: opts.region,
      maxAttempts: 1,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    };
    this.#ec2 = new EC2Client(client);
    this.#asg = new AutoScalingClient(client);
    const log = opts.log;
    this.#call = {
      policy: opts.retry ?? DEFAULT_RETRY,
      secrets: () => this.#secrets,
      onRetry: (e) =>
        log?.warn(
          { provider: this.name, ...e },
          `aws ${e.call} on group ${e.group}${e.subject ? ` (${e.subject})` : ''}: ${e.code}${e.status ? ` (HTTP ${e.status})` : ''}, try ${e.attempt} of ${e.of}; retrying in ${e.delayMs} ms`,
        ),
    };
    this.#hooks = new LifecycleHooks(this.#asg, this.group, this.#call);
    this.images = opts.images
      ? new AmiBaking(opts.images, {
          provider: this.name,
          ec2: this.#ec2,
          run: (call, subject, attempt) => this.#run(call, subject, attempt),
          launchTemplate: async (signal) => this.#launchTemplate(await this.#describeGroup(signal)),
        })
      : undefined;
  }

  /** Learns the resolved secret once, so no message can ever carry it (they never should). */
  async #learnSecrets(): Promise<void> {
    if (this.#secretsLearned) return;
    this.#secretsLearned = true;
    const fromEnv = [process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN];
    try {
      const c = await this.#ec2.config.credentials();
      fromEnv.push(c.secretAccessKey, c.sessionToken);
    } catch {
      // No credentials yet: the call itself will say so, without any secret in it.
    }
    this.#secrets = fromEnv.filter((s): s is string => typeof s === 'string' && s.length > 3);
  }

  async #run<T>(
    call: string,
    subject: string | undefined,
    attempt: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    await this.#learnSecrets();
    try {
      return await callAws({ call, group: this.group, subject }, this.#call, attempt);
    } catch (e) {
      throw this.#wrap(e);
    }
  }

  #wrap(e: unknown): Error {
    const message = (e as Error).message ?? String(e);
    return new Error(`aws provider ${this.name}: ${message}`, { cause: e });
  }

  async #send<T>(call: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      throw named(call, e);
    }
  }

  // ---- reads

  async #describeGroup(signal: AbortSignal): Promise<AutoScalingGroup> {
    const out = await this.#send('DescribeAutoScalingGroups', () =>
      this.#asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.group] }), {
        abortSignal: signal,
      }),
    );
    const group = out.AutoScalingGroups?.[0];
    if (!group)
      throw Object.assign(
        new Error(`Auto Scaling group ${this.group} does not exist in ${this.#opts.region}`),
        {
          name: 'ValidationError',
        },
      );
    return group;
  }

  async #describeInstances(filters: Filter[] | undefined, ids: string[] | undefined, signal: AbortSignal) {
    const found: Ec2Instance[] = [];
    let token: string | undefined;
    do {
      const page = await this.#send('DescribeInstances', () =>
        this.#ec2.send(
          new DescribeInstancesCommand({
            ...(filters ? { Filters: filters } : {}),
            ...(ids ? { InstanceIds: ids } : {}),
            NextToken: token,
          }),
          { abortSignal: signal },
        ),
      );
      for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) found.push(i);
      token = page.NextToken;
    } while (token);
    return found;
  }

  /** One instance by id; undefined when AWS no longer knows it. */
  async #describeOne(id: string, signal: AbortSignal): Promise<Ec2Instance | undefined> {
    try {
      return (await this.#describeInstances(undefined, [id], signal))[0];
    } catch (e) {
      if ((e as { name?: string }).name === 'InvalidInstanceID.NotFound') return undefined;
      throw e;
    }
  }

  /** The instance Rampart launched for `actionId`, if a try already did. */
  async #findByAction(actionId: string, signal: AbortSignal): Promise<Ec2Instance | undefined> {
    const found = await this.#describeInstances(
      [
        { Name: `tag:${TAGS.group}`, Values: [this.group] },
        { Name: `tag:${TAGS.action}`, Values: [actionId] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
      undefined,
      signal,
    );
    return found[0];
  }

  /** The instance's Auto Scaling membership (any group), if it has one. */
  async #membership(id: string, signal: AbortSignal) {
    const out = await this.#send('DescribeAutoScalingInstances', () =>
      this.#asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
    );
    return out.AutoScalingInstances?.[0];
  }

  #toInstance(i: Ec2Instance, lifecycle: string | undefined, unmanaged = false): Instance {
    const tag = (key: string) => tagOf(i, key);
    const state = i.State?.Name ?? 'unknown';
    const leaving = lifecycle?.startsWith('Terminating') === true;
    return {
      id: i.InstanceId!,
      nodeId: unmanaged ? `unmanaged-${i.InstanceId}` : (tag(TAGS.node) ?? ''),
      pool: unmanaged ? (this.#opts.pool ?? '') : (tag(TAGS.pool) ?? ''),
      actionId: unmanaged ? '' : (tag(TAGS.action) ?? ''),
      host: instanceAddress(i, this.#address) ?? '',
      ports: { ...this.#opts.ports },
      running: RUNNING_STATES.has(state) && !leaving,
      createdAt: Number(tag(TAGS.createdAt)) || i.LaunchTime?.getTime() || 0,
      term: unmanaged ? undefined : Number(tag(TAGS.term)) || undefined,
    };
  }

  async list(): Promise<Instance[]> {
    return this.#run('DescribeInstances', undefined, async (signal) => {
      const [tagged, group] = await Promise.all([
        this.#describeInstances(
          [
            { Name: `tag:${TAGS.group}`, Values: [this.group] },
            { Name: 'instance-state-name', Values: LIVE_STATES },
          ],
          undefined,
          signal,
        ),
        this.#describeGroup(signal),
      ]);
      const lifecycle = new Map((group.Instances ?? []).map((m) => [m.InstanceId!, m.LifecycleState]));
      const out: Instance[] = [];
      const seen = new Set<string>();
      for (const i of tagged) {
        seen.add(i.InstanceId!);
        const hasIdentity =
          i.Tags?.some((t) => t.Key === TAGS.node) && i.Tags?.some((t) => t.Key === TAGS.action);
        if (hasIdentity) out.push(this.#toInstance(i, lifecycle.get(i.InstanceId!)));
      }
      // Members the group launched by itself: listed so the orphan cleanup removes them.
      const foreign = (group.Instances ?? [])
        .filter((m) => !seen.has(m.InstanceId!) && !m.LifecycleState?.startsWith('Terminating'))
        .map((m) => m.InstanceId!);
      if (foreign.length > 0 && this.#opts.pool) {
        for (const i of await this.#describeInstances(undefined, foreign, signal)) {
          if (GONE_STATES.has(i.State?.Name ?? '')) continue;
          const identity = i.Tags?.some((t) => t.Key === TAGS.node);
          out.push(this.#toInstance(i, lifecycle.get(i.InstanceId!), !identity));
        }
      }
      return out;
    });
  }

  // ---- create

  async create(req: CreateRequest): Promise<Instance> {
    const missing = req.kind.portNames.filter((p) => this.#opts.ports[p] === undefined);
    if (missing.length > 0)
      throw new Error(
        `aws provider ${this.name}: node kind ${req.kind.kind} needs port(s) ${missing.join(', ')}; set them in providers[].ports`,
      );
    const subject = `node ${req.nodeId}`;
    const userData = this.#userData(req);
    this.#inFlight.add(req.actionId);
    try {
      await this.#attachStrays(subject);
      return await this.#launchAndAttach(req, subject, userData);
    } finally {
      this.#inFlight.delete(req.actionId);
    }
  }

  /**
   * Attaches Rampart's instances left outside the group by a controller that died between
   * launch and attach (a restart adopted them): they count against the group's MaxSize
   * again before anything new is launched. Best effort: a failure is only logged.
   */
  async #attachStrays(subject: string): Promise<void> {
    let strays: string[];
    try {
      strays = await this.#run('DescribeInstances', subject, async (signal) => {
        const [mine, group] = await Promise.all([
          this.#describeInstances(
            [
              { Name: `tag:${TAGS.group}`, Values: [this.group] },
              { Name: 'instance-state-name', Values: ['pending', 'running'] },
            ],
            undefined,
            signal,
          ),
          this.#describeGroup(signal),
        ]);
        const members = new Set((group.Instances ?? []).map((m) => m.InstanceId));
        return mine
          .filter((i) => !members.has(i.InstanceId) && !this.#inFlight.has(tagOf(i, TAGS.action) ?? ''))
          .map((i) => i.InstanceId!);
      });
    } catch {
      return; // the launch that follows reports the API's trouble
    }
    for (const id of strays)
      await this.#attach(id, `stray instance ${id}`).then(
        () =>
          this.#opts.log?.info(
            { provider: this.name, instance: id },
            `attached ${id}, left outside group ${this.group} by an earlier controller`,
          ),
        (e) => this.#opts.log?.warn({ provider: this.name, instance: id }, (e as Error).message),
      );
  }

  async #launchAndAttach(
    req: CreateRequest,
    subject: string,
    userData: string | undefined,
  ): Promise<Instance> {
    const launched = await this.#run('RunInstances', subject, async (signal) => {
      const earlier = await this.#findByAction(req.actionId, signal);
      if (earlier) return earlier;
      const group = await this.#describeGroup(signal);
      const members = (group.Instances ?? []).filter((m) => !m.LifecycleState?.startsWith('Terminating'));
      const maxSize = group.MaxSize ?? 0;
      if (members.length >= maxSize)
        throw Object.assign(
          new Error(
            `the group holds ${members.length} instance(s), its MaxSize is ${maxSize}: refusing to launch`,
          ),
          { name: 'GroupAtMaxSize' },
        );
      const placement = await this.#placement(group, signal);
      const out = await this.#send('RunInstances', () =>
        this.#ec2.send(
          new RunInstancesCommand({
            MinCount: 1,
            MaxCount: 1,
            LaunchTemplate: this.#launchTemplate(group),
            ClientToken: createHash('sha256')
              .update(`${this.group}/${req.actionId}/${req.nodeId}`)
              .digest('hex')
              .slice(0, 64),
            ...placement,
            ...(userData ? { UserData: Buffer.from(userData).toString('base64') } : {}),
            TagSpecifications: ['instance', 'volume'].map((type) => ({
              ResourceType: type as 'instance' | 'volume',
              Tags: this.#identityTags(req),
            })),
          }),
          { abortSignal: signal },
        ),
      );
      const instance = out.Instances?.[0];
      if (!instance?.InstanceId)
        throw Object.assign(new Error('RunInstances answered without an instance'), {
          name: 'InternalError',
        });
      return instance;
    });
    const id = launched.InstanceId!;
    // Fault injection for the crash-safety tests: dies between launch and attach.
    if (process.env.RAMPART_CRASH_AT === 'create:after-run-instances') process.kill(process.pid, 'SIGKILL');
    try {
      await this.#attach(id, subject);
    } catch (e) {
      const cleanup = await this.#terminateOutright(id, subject).then(
        () => `terminated ${id}, which it had launched, so nothing runs outside the group`,
        (c) => `could not terminate ${id} either (${(c as Error).message}): the orphan cleanup will`,
      );
      throw new Error(`${(e as Error).message}; ${cleanup}`, { cause: e });
    }
    await this.#reportHooks(id, 'launching');
    return this.#toInstance(launched, 'InService');
  }

  #identityTags(req: CreateRequest): { Key: string; Value: string }[] {
    const tags = [
      { Key: TAGS.node, Value: req.nodeId },
      { Key: TAGS.pool, Value: req.pool },
      { Key: TAGS.action, Value: req.actionId },
      { Key: TAGS.term, Value: String(req.term) },
      { Key: TAGS.group, Value: this.group },
      { Key: TAGS.createdAt, Value: String(Date.now()) },
      { Key: 'Name', Value: req.nodeId },
    ];
    const url = req.launch.snapshot?.url;
    if (url) tags.push({ Key: TAGS.snapshot, Value: url });
    return tags;
  }

  #userData(req: CreateRequest): string | undefined {
    const settings = this.#opts.userData;
    if (!settings) return undefined;
    const snapshot = req.launch.snapshot;
    if (snapshot && !snapshot.url)
      throw new Error(
        `aws provider ${this.name}: node ${req.nodeId} should restore snapshot ${snapshot.id}, but its store is not reachable from AWS (use an s3 snapshot store)`,
      );
    return renderBootScript({
      nodeId: req.nodeId,
      pool: req.pool,
      actionId: req.actionId,
      dataDir: settings.dataDir,
      command: settings.command,
      // An AMI is a copy of a whole disk, Rampart's baked ones above all.
      purgeCopiedKeys: true,
      snapshot: snapshot?.url ? { id: snapshot.id, height: snapshot.height, url: snapshot.url } : undefined,
    });
  }

  #launchTemplate(group: AutoScalingGroup) {
    const configured = this.#opts.launchTemplate;
    if (configured) return { LaunchTemplateName: configured.name, Version: configured.version };
    const own =
      group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
    if (!own?.LaunchTemplateId && !own?.LaunchTemplateName)
      throw Object.assign(
        new Error(`group ${this.group} has no launch template: name one in providers[].launchTemplate`),
        { name: 'ValidationError' },
      );
    return own.LaunchTemplateId
      ? { LaunchTemplateId: own.LaunchTemplateId, Version: own.Version ?? '$Default' }
      : { LaunchTemplateName: own.LaunchTemplateName, Version: own.Version ?? '$Default' };
  }

  /** The group's subnet (or zone) holding the fewest of its instances: what the group itself would pick. */
  async #placement(group: AutoScalingGroup, signal: AbortSignal) {
    const perZone = new Map<string, number>();
    for (const m of group.Instances ?? [])
      if (m.AvailabilityZone) perZone.set(m.AvailabilityZone, (perZone.get(m.AvailabilityZone) ?? 0) + 1);
    const subnets = (group.VPCZoneIdentifier ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (subnets.length > 0) {
      const unknown = subnets.filter((s) => !this.#subnetZones.has(s));
      if (unknown.length > 0) {
        const out = await this.#send('DescribeSubnets', () =>
          this.#ec2.send(new DescribeSubnetsCommand({ SubnetIds: unknown }), { abortSignal: signal }),
        );
        for (const s of out.Subnets ?? [])
          if (s.SubnetId && s.AvailabilityZone) this.#subnetZones.set(s.SubnetId, s.AvailabilityZone);
      }
      const count = (s: string) => perZone.get(this.#subnetZones.get(s) ?? '') ?? 0;
      const best = subnets.reduce((a, b) => (count(b) < count(a) ? b : a));
      return { SubnetId: best };
    }
    const zones = group.AvailabilityZones ?? [];
    if (zones.length === 0) return {};
    const zone = zones.reduce((a, b) => ((perZone.get(b) ?? 0) < (perZone.get(a) ?? 0) ? b : a));
    return { Placement: { AvailabilityZone: zone } };
  }

  /** Attaches the instance to the group unless it already is a member (a try that timed out may have). */
  async #attach(id: string, subject: string): Promise<void> {
    await this.#run('AttachInstances', `${subject}, instance ${id}`, async (signal) => {
      const member = await this.#membership(id, signal);
      if (member?.AutoScalingGroupName === this.group) return;
      if (member)
        throw Object.assign(new Error(`${id} belongs to group ${member.AutoScalingGroupName}`), {
          name: 'ValidationError',
        });
      await this.#send('AttachInstances', () =>
        this.#asg.send(new AttachInstancesCommand({ AutoScalingGroupName: this.group, InstanceIds: [id] }), {
          abortSignal: signal,
        }),
      );
    });
  }

  async #reportHooks(id: string, transition: 'launching' | 'terminating'): Promise<void> {
    for (const o of await this.#hooks.continue(id, transition))
      if (!o.completed)
        this.#opts.log?.warn(
          { provider: this.name, group: this.group, instance: id, hook: o.hook },
          `lifecycle hook ${o.hook} of ${id} (${transition}) not completed: ${o.detail}; the instance waits for the hook's timeout`,
        );
  }

  // ---- destroy, stop, start

  async destroy(instance: Instance): Promise<void> {
    const subject = `node ${instance.nodeId}, instance ${instance.id}`;
    const outcome = await this.#run('TerminateInstanceInAutoScalingGroup', subject, async (signal) => {
      const ec2 = await this.#describeOne(instance.id, signal);
      if (!ec2 || GONE_STATES.has(ec2.State?.Name ?? '')) return 'gone';
      const member = await this.#membership(instance.id, signal);
      if (member?.AutoScalingGroupName === this.group) {
        const state = member.LifecycleState ?? '';
        if (state.startsWith('Terminating')) return 'in-group';
        if (state.startsWith('Standby')) {
          // Entering standby already took it out of the desired capacity.
          await this.#send('DetachInstances', () =>
            this.#asg.send(
              new DetachInstancesCommand({
                AutoScalingGroupName: this.group,
                InstanceIds: [instance.id],
                ShouldDecrementDesiredCapacity: false,
              }),
              { abortSignal: signal },
            ),
          );
        } else {
          await this.#send('TerminateInstanceInAutoScalingGroup', () =>
            this.#asg.send(
              new TerminateInstanceInAutoScalingGroupCommand({
                InstanceId: instance.id,
                ShouldDecrementDesiredCapacity: true,
              }),
              { abortSignal: signal },
            ),
          );
          return 'in-group';
        }
      }
      await this.#send('TerminateInstances', () =>
        this.#ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance.id] }), {
          abortSignal: signal,
        }),
      );
      return 'outright';
    });
    if (outcome === 'in-group') await this.#reportHooks(instance.id, 'terminating');
  }

  /** Terminates an instance that never joined the group. */
  async #terminateOutright(id: string, subject: string): Promise<void> {
    await this.#run('TerminateInstances', `${subject}, instance ${id}`, async (signal) => {
      const member = await this.#membership(id, signal);
      if (member?.AutoScalingGroupName === this.group)
        await this.#send('TerminateInstanceInAutoScalingGroup', () =>
          this.#asg.send(
            new TerminateInstanceInAutoScalingGroupCommand({
              InstanceId: id,
              ShouldDecrementDesiredCapacity: true,
            }),
            { abortSignal: signal },
          ),
        );
      else
        await this.#send('TerminateInstances', () =>
          this.#ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
        );
    });
  }

  /**
   * Stops an instance, keeping its volumes: first out of the group's service (standby, with
   * the desired capacity lowered, so the group neither replaces it nor counts it), then stopped.
   */
  async stop(instance: Instance): Promise<void> {
    await this.#run('StopInstances', `node ${instance.nodeId}, instance ${instance.id}`, async (signal) => {
      const ec2 = await this.#describeOne(instance.id, signal);
      const state = ec2?.State?.Name ?? 'terminated';
      if (GONE_STATES.has(state) || state === 'stopped' || state === 'stopping') return;
      const member = await this.#membership(instance.id, signal);
      if (member?.AutoScalingGroupName === this.group && member.LifecycleState === 'InService')
        await this.#send('EnterStandby', () =>
          this.#asg.send(
            new EnterStandbyCommand({
              AutoScalingGroupName: this.group,
              InstanceIds: [instance.id],
              ShouldDecrementDesiredCapacity: true,
            }),
            { abortSignal: signal },
          ),
        );
      await this.#send('StopInstances', () =>
        this.#ec2.send(new StopInstancesCommand({ InstanceIds: [instance.id] }), { abortSignal: signal }),
      );
    });
  }

  /** Starts a stopped instance again (same id, tags and volumes) and returns it to service. */
  async start(instance: Instance): Promise<Instance> {
    return this.#run('StartInstances', `node ${instance.nodeId}, instance ${instance.id}`, async (signal) => {
      const ec2 = await this.#describeOne(instance.id, signal);
      const state = ec2?.State?.Name ?? 'terminated';
      if (!ec2 || GONE_STATES.has(state))
        throw Object.assign(new Error(`${instance.id} is ${state}: it cannot be started again`), {
          name: 'IncorrectInstanceState',
        });
      if (state === 'stopped')
        await this.#send('StartInstances', () =>
          this.#ec2.send(new StartInstancesCommand({ InstanceIds: [instance.id] }), { abortSignal: signal }),
        );
      const member = await this.#membership(instance.id, signal);
      if (member?.AutoScalingGroupName === this.group && member.LifecycleState === 'Standby')
        await this.#send('ExitStandby', () =>
          this.#asg.send(
            new ExitStandbyCommand({ AutoScalingGroupName: this.group, InstanceIds: [instance.id] }),
            {
              abortSignal: signal,
            },
          ),
        );
      const now = await this.#describeOne(instance.id, signal);
      return this.#toInstance(now ?? ec2, 'InService');
    });
  }
}
