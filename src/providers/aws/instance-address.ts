// Where a node on an EC2 instance is reached: its private IP (the default: Rampart runs in
// the same VPC), its public IP, or the value of a tag the image sets at boot (an address
// known only to the machine, a DNS name, or a test bed's loopback address).

import type { Instance as Ec2Instance } from '@aws-sdk/client-ec2';

export type AddressSource = 'private-ip' | 'public-ip' | { readonly tag: string };

/** The instance's address by `source`, or undefined while it has none (still pending, tag not set yet). */
export function instanceAddress(instance: Ec2Instance, source: AddressSource): string | undefined {
  if (source === 'private-ip') return instance.PrivateIpAddress || undefined;
  if (source === 'public-ip') return instance.PublicIpAddress || undefined;
  const value = instance.Tags?.find((t) => t.Key === source.tag)?.Value;
  return value?.trim() || undefined;
}

/** How the address source reads in messages. */
export function describeAddressSource(source: AddressSource): string {
  return typeof source === 'string' ? source : `tag ${source.tag}`;
}
