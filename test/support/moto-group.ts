// An Auto Scaling group on moto, as an operator would set one up for Rampart: a VPC with
// one subnet, a launch template, and an empty group (min 0, desired 0) that Rampart owns.

import { after, before, type TestContext } from 'node:test';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  PutLifecycleHookCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { type RunningServer, skipUnlessInstalled, startMoto } from './servers.ts';

/** Dummy credentials for moto, through the SDK's standard chain (the environment). */
export const MOTO_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIARAMPARTTEST00000',
  AWS_SECRET_ACCESS_KEY: 'rampart-test-secret-3f9c1e7a-never-print-me',
  AWS_REGION: 'us-east-1',
  // No instance-metadata lookups on a machine that is not an EC2 instance.
  AWS_EC2_METADATA_DISABLED: 'true',
} as const;

/**
 * One moto server for a whole test file, with MOTO_CREDENTIALS in the environment: started
 * before the file's first test, stopped after its last — every stop runs even when one fails
 * (a machine fake left running would keep the process alive). `skip` is the file's tests'
 * `skip` option (skipUnlessInstalled): when it is a reason, no server is started.
 */
export function motoForFile(): { readonly skip: string | false; server(): RunningServer } {
  const skip = skipUnlessInstalled('moto_server');
  let server: RunningServer | undefined;
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    useMotoCredentials();
    if (skip) return;
    // startMoto wants a test context only to skip and to register the server's stop.
    const fileScope = {
      skip: () => undefined,
      after: (fn: () => Promise<void>) => stops.push(fn),
    } as unknown as TestContext;
    server = await startMoto(fileScope);
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop().catch((e) => console.error(e));
  });
  return {
    skip,
    server: () => {
      if (!server) throw new Error('moto is not started (motoForFile starts it in `before`)');
      return server;
    },
  };
}

/** Puts MOTO_CREDENTIALS into this process's environment, where the SDK's chain finds them. */
export function useMotoCredentials(): void {
  Object.assign(process.env, MOTO_CREDENTIALS);
}

export function motoClients(endpoint: string): { ec2: EC2Client; asg: AutoScalingClient } {
  const config = {
    endpoint,
    region: MOTO_CREDENTIALS.AWS_REGION,
    credentials: {
      accessKeyId: MOTO_CREDENTIALS.AWS_ACCESS_KEY_ID,
      secretAccessKey: MOTO_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
    },
  };
  return { ec2: new EC2Client(config), asg: new AutoScalingClient(config) };
}

export interface MotoGroupOptions {
  readonly group: string;
  readonly maxSize: number;
  /** Lifecycle hooks to put on the group (moto stores them; it does not enforce them). */
  readonly hooks?: readonly ('launching' | 'terminating')[];
}

/** Empties moto: every resource of every service goes. */
export async function resetMoto(endpoint: string): Promise<void> {
  const r = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  await r.arrayBuffer();
  if (!r.ok) throw new Error(`moto reset: HTTP ${r.status}`);
}

export async function createMotoGroup(endpoint: string, o: MotoGroupOptions): Promise<{ template: string }> {
  const { ec2, asg } = motoClients(endpoint);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const subnet = await ec2.send(
    new CreateSubnetCommand({
      VpcId: vpc.Vpc!.VpcId!,
      CidrBlock: '10.0.1.0/24',
      AvailabilityZone: 'us-east-1a',
    }),
  );
  const template = `${o.group}-template`;
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: template,
      LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: o.group,
      MinSize: 0,
      MaxSize: o.maxSize,
      DesiredCapacity: 0,
      LaunchTemplate: { LaunchTemplateName: template, Version: '$Latest' },
      VPCZoneIdentifier: subnet.Subnet!.SubnetId!,
    }),
  );
  for (const hook of o.hooks ?? [])
    await asg.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: o.group,
        LifecycleHookName: `rampart-${hook}`,
        LifecycleTransition:
          hook === 'launching'
            ? 'autoscaling:EC2_INSTANCE_LAUNCHING'
            : 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 300,
        DefaultResult: 'CONTINUE',
      }),
    );
  ec2.destroy();
  asg.destroy();
  return { template };
}
