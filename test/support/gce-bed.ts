// The GCE test bed: one fake-gce per test file, reached by the official client through
// Application Default Credentials on "GCE" (the fake's metadata server), never a real secret.

import { after, before } from 'node:test';
import { type FakeGce, startFakeGce } from './fake-gce-compute.ts';

export const ZONE = 'us-central1-a';
export const REGION = 'us-central1';
export const FAMILY = 'sentry';

/**
 * Starts fake-gce before the file's tests and points ADC at its metadata server (the
 * environment is inherited by controllers the tests spawn).
 */
export function fakeGceForFile(): { fake(): FakeGce } {
  let fake: FakeGce | undefined;
  before(async () => {
    fake = await startFakeGce();
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GCE_METADATA_HOST = fake.metadataHost;
    process.env.METADATA_SERVER_DETECTION = 'ping-only';
  });
  after(async () => {
    await fake?.close();
  });
  return {
    fake: () => {
      if (!fake) throw new Error('fake-gce is not started');
      return fake;
    },
  };
}

let groups = 0;

/** A fresh group with its template (booting the image family when `family` is given). */
export function freshGroup(
  fake: FakeGce,
  o: { region?: boolean; autoscalerMode?: string; family?: string } = {},
): string {
  const name = `sentries-${process.pid}-${++groups}`;
  const template = fake.createTemplate({
    name: `${name}-tpl`,
    sourceImage: o.family ? `projects/${fake.project}/global/images/family/${o.family}` : undefined,
  });
  fake.createGroup({
    name,
    ...(o.region ? { region: REGION } : { zone: ZONE }),
    template,
    autoscalerMode: o.autoscalerMode,
  });
  return name;
}
