// AMIs baked from a stopped node of an aws provider's pool: an EBS snapshot of the instance's
// root volume, an AMI registered from it, then a new version of the launch template booting it,
// made the template's default, so the next instance Rampart launches ($Default or $Latest)
// boots the newest AMI. AMIs beyond `keep` are deregistered and their snapshots deleted.
//
// Every step finds its own earlier work by name before it acts (snapshot tag `rampart:bake`,
// AMI name, the template's newest versions), so a retried step never makes a second one; what
// a bake killed midway leaves (a snapshot without an AMI, an AMI no template boots) goes with
// the next bake's retirement.

import {
  CreateLaunchTemplateVersionCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSnapshotsCommand,
  type EC2Client,
  type Instance as Ec2Instance,
  type Image,
  ModifyLaunchTemplateCommand,
  RegisterImageCommand,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { ImageBaking, Instance } from '../provider.ts';
import { amisToRetire, type BakedAmi, floatingVersion, snapshotsToDelete } from './ami-retirement.ts';

/** Tags on the snapshots and AMIs Rampart bakes. */
export const IMAGE_TAGS = {
  family: 'rampart:family',
  /** The bake's name (`<family>-<action id>`): a retried step finds its own work by it. */
  bake: 'rampart:bake',
  /** On an AMI: the snapshot it was registered from. */
  snapshot: 'rampart:snapshot',
  node: 'rampart:node',
  pool: 'rampart:pool',
} as const;

export interface AmiImagesOptions {
  readonly family: string;
  readonly every?: number | undefined;
  readonly keep: number;
  /** Longest wait for each of: the instance stopped, the snapshot completed, the AMI available (ms). */
  readonly timeout: number;
}

/** A launch template as RunInstances names it. */
export interface LaunchTemplateRef {
  readonly LaunchTemplateId?: string | undefined;
  readonly LaunchTemplateName?: string | undefined;
  readonly Version: string;
}

export interface AmiBakingDeps {
  /** The provider's name, for errors. */
  readonly provider: string;
  readonly ec2: EC2Client;
  /** One API call with the provider's retries, errors named after `call` and `subject`. */
  run<T>(call: string, subject: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** The launch template Rampart launches from (its config's, or the group's own). */
  launchTemplate(signal: AbortSignal): Promise<LaunchTemplateRef>;
}

/** An error the retry does not repeat (a validation error in AWS's terms). */
function refused(message: string, name = 'ValidationError'): Error {
  return Object.assign(new Error(message), { name });
}

const tagOf = (tags: readonly Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Dies here when the crash-safety tests ask for it. */
function crashPoint(name: string): void {
  if (process.env.RAMPART_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

export class AmiBaking implements ImageBaking {
  readonly everyMs: number | undefined;
  readonly keep: number;
  readonly #o: AmiImagesOptions;
  readonly #d: AmiBakingDeps;

  constructor(o: AmiImagesOptions, deps: AmiBakingDeps) {
    this.everyMs = o.every;
    this.keep = o.keep;
    this.#o = o;
    this.#d = deps;
  }

  async list(): Promise<{ name: string; id: string; createdAt: number }[]> {
    return (await this.#amis(`family ${this.#o.family}`)).map((a) => ({
      name: a.name,
      id: a.id,
      createdAt: a.createdAt,
    }));
  }

  /** The family's AMIs, newest first. */
  async #amis(subject: string): Promise<BakedAmi[]> {
    const images = await this.#d.run('DescribeImages', subject, (signal) =>
      this.#d.ec2.send(
        new DescribeImagesCommand({
          Owners: ['self'],
          Filters: [{ Name: `tag:${IMAGE_TAGS.family}`, Values: [this.#o.family] }],
        }),
        { abortSignal: signal },
      ),
    );
    return (images.Images ?? [])
      .filter((i) => tagOf(i.Tags, IMAGE_TAGS.family) === this.#o.family && i.State !== 'deregistered')
      .map((i) => ({
        id: i.ImageId!,
        name: i.Name ?? i.ImageId!,
        createdAt: Date.parse(i.CreationDate ?? '') || 0,
        available: i.State === 'available',
        snapshots: [
          ...new Set(
            [
              tagOf(i.Tags, IMAGE_TAGS.snapshot),
              ...(i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId),
            ].filter((s): s is string => !!s),
          ),
        ],
      }))
      .sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name));
  }

  async bake(instance: Instance, bakeId: string): Promise<{ image: string; retired: string[] }> {
    const family = this.#o.family;
    const subject = `node ${instance.nodeId}, instance ${instance.id}, family ${family}`;
    const base = `${family}-${bakeId}`.slice(0, 128);
    const template = await this.#floatingTemplate(subject);
    const source = await this.#untilStopped(instance, subject);
    const snapshot = await this.#snapshot(source, instance, base, subject);
    crashPoint('image:after-ebs-snapshot');
    await this.#until('DescribeSnapshots', `snapshot ${snapshot} completed`, subject, async (signal) => {
      const out = await this.#d.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshot] }), {
        abortSignal: signal,
      });
      const state = out.Snapshots?.[0]?.State;
      if (state === 'error')
        throw refused(`snapshot ${snapshot} failed: ${out.Snapshots?.[0]?.StateMessage ?? 'error'}`);
      return state === 'completed';
    });
    const ami = await this.#register(source, instance, base, snapshot, subject);
    crashPoint('image:after-register-image');
    await this.#until('DescribeImages', `AMI ${ami} available`, subject, async (signal) => {
      const image = await this.#image({ ImageIds: [ami] }, signal);
      if (image?.State === 'failed' || image?.State === 'error')
        throw refused(`AMI ${ami} failed: ${image.StateReason?.Message ?? image.State}`);
      return image?.State === 'available';
    });
    await this.#bootFromTemplate(template, ami, base, subject);
    const retired = await this.#retire(template);
    return { image: `${ami} (${base})`, retired };
  }

  /**
   * The template Rampart launches from, refused unless it floats: a pinned version would go
   * on booting its own AMI whatever is baked.
   */
  async #floatingTemplate(subject: string): Promise<LaunchTemplateRef> {
    const template = await this.#d.run('DescribeAutoScalingGroups', subject, (signal) =>
      this.#d.launchTemplate(signal),
    );
    if (!floatingVersion(template.Version))
      throw new Error(
        `aws provider ${this.#d.provider}: launch template ${template.LaunchTemplateName ?? template.LaunchTemplateId} is used at version ${template.Version}, pinned: new instances would not boot the baked AMIs of family ${this.#o.family}; use $Default or $Latest (providers[].launchTemplate.version, or the group's own launch template)`,
      );
    return template;
  }

  /** Waits until the instance is stopped (the caller asked for it); its description then. */
  async #untilStopped(instance: Instance, subject: string): Promise<Ec2Instance> {
    let found: Ec2Instance | undefined;
    await this.#until('DescribeInstances', `instance ${instance.id} stopped`, subject, async (signal) => {
      const out = await this.#d.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.id] }), {
        abortSignal: signal,
      });
      found = out.Reservations?.[0]?.Instances?.[0];
      const state = found?.State?.Name;
      if (!found || state === 'terminated' || state === 'shutting-down')
        throw refused(`instance ${instance.id} is ${state ?? 'gone'}: nothing to bake`);
      return state === 'stopped';
    });
    return found!;
  }

  /** The bake's snapshot of the root volume: found by its tag, or made. */
  async #snapshot(source: Ec2Instance, instance: Instance, base: string, subject: string): Promise<string> {
    return this.#d.run('CreateSnapshot', subject, async (signal) => {
      const earlier = await this.#d.ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [{ Name: `tag:${IMAGE_TAGS.bake}`, Values: [base] }],
        }),
        { abortSignal: signal },
      );
      const mine = earlier.Snapshots?.find((s) => s.State !== 'error');
      if (mine?.SnapshotId) return mine.SnapshotId;
      const root = source.RootDeviceName;
      const volume = source.BlockDeviceMappings?.find((m) => m.DeviceName === root)?.Ebs?.VolumeId;
      if (!volume)
        throw refused(
          `instance ${instance.id} has no EBS root volume (${root ?? 'no root device'}) to snapshot`,
        );
      const out = await this.#d.ec2.send(
        new CreateSnapshotCommand({
          VolumeId: volume,
          Description: `Rampart image ${base} of node ${instance.nodeId}`,
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: this.#tags(base, instance) }],
        }),
        { abortSignal: signal },
      );
      return out.SnapshotId!;
    });
  }

  #tags(base: string, instance: Instance): Tag[] {
    return [
      { Key: IMAGE_TAGS.family, Value: this.#o.family },
      { Key: IMAGE_TAGS.bake, Value: base },
      { Key: IMAGE_TAGS.node, Value: instance.nodeId },
      { Key: IMAGE_TAGS.pool, Value: instance.pool },
      { Key: 'Name', Value: base },
    ];
  }

  async #image(
    find: { ImageIds: string[] } | { name: string },
    signal: AbortSignal,
  ): Promise<Image | undefined> {
    const out = await this.#d.ec2.send(
      new DescribeImagesCommand(
        'name' in find
          ? { Owners: ['self'], Filters: [{ Name: 'name', Values: [find.name] }] }
          : { ImageIds: find.ImageIds },
      ),
      { abortSignal: signal },
    );
    return out.Images?.find((i) => i.State !== 'deregistered');
  }

  /** The bake's AMI: found by its name (unique per account and region), or registered. */
  async #register(
    source: Ec2Instance,
    instance: Instance,
    base: string,
    snapshot: string,
    subject: string,
  ): Promise<string> {
    const tags = [...this.#tags(base, instance), { Key: IMAGE_TAGS.snapshot, Value: snapshot }];
    const id = await this.#d.run('RegisterImage', subject, async (signal) => {
      const earlier = await this.#image({ name: base }, signal);
      if (earlier?.ImageId) return earlier.ImageId;
      const root = source.RootDeviceName!;
      try {
        const out = await this.#d.ec2.send(
          new RegisterImageCommand({
            Name: base,
            Description: `Rampart image of node ${instance.nodeId} (pool ${instance.pool})`,
            RootDeviceName: root,
            BlockDeviceMappings: [
              { DeviceName: root, Ebs: { SnapshotId: snapshot, DeleteOnTermination: true } },
            ],
            Architecture: source.Architecture,
            VirtualizationType: 'hvm',
            EnaSupport: source.EnaSupport,
            ...(source.BootMode ? { BootMode: source.BootMode } : {}),
            TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
          }),
          { abortSignal: signal },
        );
        return out.ImageId!;
      } catch (e) {
        // A try whose answer was lost registered it: the name is taken by our own AMI.
        if ((e as { name?: string }).name !== 'InvalidAMIName.Duplicate') throw e;
        const mine = await this.#image({ name: base }, signal);
        if (!mine?.ImageId) throw e;
        return mine.ImageId;
      }
    });
    // Tagged again: an emulator may drop the tags given at registration (moto does).
    await this.#d.run('CreateTags', `${subject}, AMI ${id}`, (signal) =>
      this.#d.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: tags }), { abortSignal: signal }),
    );
    return id;
  }

  /** The template's versions a floating reference can mean now: $Default and $Latest. */
  async #floatingVersions(template: LaunchTemplateRef, signal: AbortSignal) {
    const out = await this.#d.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        ...(template.LaunchTemplateId
          ? { LaunchTemplateId: template.LaunchTemplateId }
          : { LaunchTemplateName: template.LaunchTemplateName }),
        Versions: ['$Default', '$Latest'],
      }),
      { abortSignal: signal },
    );
    const versions = out.LaunchTemplateVersions ?? [];
    return {
      byDefault: versions.find((v) => v.DefaultVersion) ?? versions[0],
      latest: versions.reduce<(typeof versions)[number] | undefined>(
        (a, v) => ((v.VersionNumber ?? 0) > (a?.VersionNumber ?? 0) ? v : a),
        undefined,
      ),
    };
  }

  /** A new template version booting `ami` (unless the newest already does), made the default. */
  async #bootFromTemplate(
    template: LaunchTemplateRef,
    ami: string,
    base: string,
    subject: string,
  ): Promise<void> {
    const which = template.LaunchTemplateId
      ? { LaunchTemplateId: template.LaunchTemplateId }
      : { LaunchTemplateName: template.LaunchTemplateName };
    const version = await this.#d.run('CreateLaunchTemplateVersion', subject, async (signal) => {
      const { byDefault, latest } = await this.#floatingVersions(template, signal);
      if (byDefault?.LaunchTemplateData?.ImageId === ami) return byDefault.VersionNumber!;
      if (latest?.LaunchTemplateData?.ImageId === ami) return latest.VersionNumber!;
      const from = template.Version === '$Latest' ? latest : byDefault;
      const out = await this.#d.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          ...which,
          ...(from?.VersionNumber ? { SourceVersion: String(from.VersionNumber) } : {}),
          VersionDescription: `rampart image ${base}`.slice(0, 255),
          LaunchTemplateData: { ImageId: ami },
        }),
        { abortSignal: signal },
      );
      return out.LaunchTemplateVersion!.VersionNumber!;
    });
    crashPoint('image:after-template-version');
    await this.#d.run('ModifyLaunchTemplate', `${subject}, version ${version}`, (signal) =>
      this.#d.ec2.send(new ModifyLaunchTemplateCommand({ ...which, DefaultVersion: String(version) }), {
        abortSignal: signal,
      }),
    );
  }

  /**
   * Deregisters the family's AMIs beyond `keep` (never one the template's $Default or $Latest
   * boots), then deletes the family's snapshots no remaining AMI uses.
   */
  async #retire(template: LaunchTemplateRef): Promise<string[]> {
    const family = this.#o.family;
    const subject = `family ${family}`;
    const inUse = await this.#d.run('DescribeLaunchTemplateVersions', subject, async (signal) => {
      const { byDefault, latest } = await this.#floatingVersions(template, signal);
      return new Set(
        [byDefault, latest].map((v) => v?.LaunchTemplateData?.ImageId).filter((i): i is string => !!i),
      );
    });
    const amis = await this.#amis(subject);
    const retired = amisToRetire(amis, this.#o.keep, inUse);
    for (const ami of retired)
      await this.#d.run('DeregisterImage', `AMI ${ami.id} (${ami.name})`, async (signal) => {
        await this.#d.ec2
          .send(new DeregisterImageCommand({ ImageId: ami.id }), { abortSignal: signal })
          .catch((e) => {
            // Gone already: a try whose answer was lost, or someone else.
            if (!/^InvalidAMIID\.(NotFound|Unavailable)$/.test((e as { name?: string }).name ?? '')) throw e;
          });
      });
    const gone = new Set(retired.map((a) => a.id));
    const snapshots = await this.#d.run('DescribeSnapshots', subject, async (signal) => {
      const out = await this.#d.ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [{ Name: `tag:${IMAGE_TAGS.family}`, Values: [family] }],
        }),
        { abortSignal: signal },
      );
      return (out.Snapshots ?? [])
        .filter((s) => tagOf(s.Tags, IMAGE_TAGS.family) === family)
        .map((s) => ({ id: s.SnapshotId!, completed: s.State === 'completed' }));
    });
    for (const id of snapshotsToDelete(
      snapshots,
      amis.filter((a) => !gone.has(a.id)),
    ))
      await this.#d.run('DeleteSnapshot', `snapshot ${id}`, async (signal) => {
        await this.#d.ec2
          .send(new DeleteSnapshotCommand({ SnapshotId: id }), { abortSignal: signal })
          .catch((e) => {
            if ((e as { name?: string }).name !== 'InvalidSnapshot.NotFound') throw e;
          });
      });
    return retired.map((a) => `${a.id} (${a.name})`);
  }

  /** Polls `done` (each poll with the provider's retries) until true, or gives up after the bake's timeout. */
  async #until(
    call: string,
    what: string,
    subject: string,
    done: (signal: AbortSignal) => Promise<boolean>,
  ): Promise<void> {
    const deadline = Date.now() + this.#o.timeout;
    let pause = 200;
    for (;;) {
      if (await this.#d.run(call, subject, done)) return;
      if (Date.now() + pause > deadline)
        throw new Error(
          `aws provider ${this.#d.provider}: ${subject}: no ${what} after ${this.#o.timeout} ms`,
        );
      await sleep(pause);
      pause = Math.min(pause * 2, 5000);
    }
  }
}
