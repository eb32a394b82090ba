// Every provider kind Rampart can drive: the slice of the config each reads, how each is
// built from its entry, and what the config checks ask of it. A new platform is a folder
// beside this file and one line here.

import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  type Connection,
  createFrom,
  type KindSchema,
  kindOf,
  type Parts,
  type Plugin,
  type PoolCheck,
  type ProviderCheck,
  pluginOf,
  unionOf,
} from '../config-kit/plugin.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { AwsProvider } from './aws/aws-provider.ts';
import { awsProviderConfig, checkAwsPool } from './aws/config.ts';
import { AzureProvider } from './azure/azure-provider.ts';
import { azureConnections, azureProviderConfig, checkAzurePool } from './azure/config.ts';
import { azureCredential } from './azure/credential.ts';
import { checkGcePool, gceProviderConfig } from './gce/config.ts';
import { GceProvider } from './gce/gce-provider.ts';
import {
  checkKubePool,
  checkNodePoolMachines,
  kubeConnections,
  kubeProviderConfig,
} from './kubernetes/config.ts';
import { NodePoolProvider } from './kubernetes/node-pool-provider.ts';
import { StatefulSetProvider } from './kubernetes/stateful-set-provider.ts';
import { localProviderConfig } from './local/config.ts';
import { LocalProvider } from './local/local-provider.ts';
import { checkOpenstackPool, checkOpenstackProvider, openstackProviderConfig } from './openstack/config.ts';
import { OpenstackProvider } from './openstack/openstack-provider.ts';
import type { Provider } from './provider.ts';

/** What a provider is built with besides its own config entry. */
export interface ProviderDeps {
  /** The pool the provider serves (an aws group, a StatefulSet serve one). */
  readonly pool?: string | undefined;
  /** Hears its retries and the like. */
  readonly log?: Logger | undefined;
  /** The provider a Kubernetes node pool's machines come from. */
  readonly machines?: Provider | undefined;
}

/** A provider kind, as the config and the wiring point see it. */
export interface ProviderPlugin<S extends KindSchema = KindSchema> extends Plugin<S, ProviderDeps, Provider> {
  /** Checks a pool it serves against the rest of the config. */
  checkPool?(c: PoolCheck<z.output<S>>): void;
  /** Checks its entry against the other providers and the pools. */
  checkProviders?(c: ProviderCheck<z.output<S>>): void;
  /** The URLs it connects to, for controller.api.requireTls. */
  connections?(entry: Parts<z.output<S>>): Connection[];
  /** Its machines can be a Kubernetes node pool's Nodes (nodePool.machines names it). */
  readonly machinesForNodePools?: boolean;
  /** The node kinds Kubernetes-like platforms judge that only this provider makes. */
  readonly platformNodes?: readonly string[];
  /** The provider whose machines it runs on, built for it and hidden from the controller. */
  machinesOf?(entry: z.output<S>): string | undefined;
  /**
   * Its nodes' data dirs are on the machine Rampart runs on (local processes), so a snapshot
   * set can stop one and copy its files (`snapshots[].from`). Absent: they are not.
   */
  readonly nodeFilesHere?: boolean;
  /** Where its nodes' files are not here: what the platform offers in place of a snapshot set. */
  readonly snapshotsInstead?: string;
}

const provider = <S extends KindSchema>(p: ProviderPlugin<S>) => p;

export const PROVIDERS = [
  provider({
    config: localProviderConfig,
    create: (p) => new LocalProvider({ name: p.name, dataDir: p.dataDir, host: p.host }),
    nodeFilesHere: true,
  }),
  provider({
    config: awsProviderConfig,
    create: (p, deps) =>
      new AwsProvider({
        name: p.name,
        region: p.region,
        autoScalingGroup: p.autoScalingGroup,
        launchTemplate: p.launchTemplate,
        endpoint: p.endpoint,
        address: p.address,
        ports: p.ports,
        retry: {
          attempts: p.retry.attempts,
          baseDelayMs: p.retry.baseDelay,
          maxDelayMs: p.retry.maxDelay,
          callTimeoutMs: p.retry.callTimeout,
        },
        userData: p.userData,
        images: p.images,
        pool: deps.pool,
        log: deps.log,
      }),
    checkPool: checkAwsPool,
    machinesForNodePools: true,
    snapshotsInstead: 'bake AMIs from a stopped instance instead (providers[].images)',
  }),
  provider({
    config: azureProviderConfig,
    create: (p, deps) => {
      const ca = p.caFile === undefined ? undefined : readFileSync(p.caFile, 'utf8');
      const login = azureCredential({
        servicePrincipalDir: p.credentials?.servicePrincipalDir,
        authorityHost: p.credentials?.authorityHost,
        ca,
      });
      deps.log?.info({ provider: p.name }, `azure provider ${p.name}: credentials from ${login.describe}`);
      return new AzureProvider({
        name: p.name,
        subscriptionId: p.subscriptionId,
        resourceGroup: p.resourceGroup,
        scaleSet: p.scaleSet,
        credential: login.credential,
        secrets: login.secrets,
        endpoint: p.endpoint,
        ca,
        address: p.address,
        ports: p.ports,
        retry: {
          attempts: p.retry.attempts,
          baseDelayMs: p.retry.baseDelay,
          maxDelayMs: p.retry.maxDelay,
          callTimeoutMs: p.retry.callTimeout,
          pollIntervalMs: p.retry.pollInterval,
          operationTimeoutMs: p.retry.operationTimeout,
        },
        customData: p.customData,
        images: p.images,
        pool: deps.pool,
        log: deps.log,
      });
    },
    checkPool: checkAzurePool,
    connections: azureConnections,
    machinesForNodePools: true,
    snapshotsInstead: 'bake managed images from a stopped VM instead (providers[].images)',
  }),
  provider({
    config: gceProviderConfig,
    create: (p, deps) =>
      new GceProvider({
        name: p.name,
        project: p.project,
        zone: p.zone,
        region: p.region,
        group: p.group,
        address: p.address,
        ports: p.ports,
        endpoint: p.endpoint,
        retry: {
          attempts: p.retry.attempts,
          baseDelayMs: p.retry.baseDelay,
          maxDelayMs: p.retry.maxDelay,
          callTimeoutMs: p.retry.callTimeout,
          operationTimeoutMs: p.retry.operationTimeout,
          bootTimeoutMs: p.retry.bootTimeout,
        },
        startupScript: p.startupScript,
        images: p.images,
        pool: deps.pool,
        log: deps.log,
      }),
    checkPool: checkGcePool,
    snapshotsInstead: 'bake images into the family the template boots instead (providers[].images)',
  }),
  provider({
    config: kubeProviderConfig,
    create: (p, deps) => {
      const client = new KubeClient(p.cluster);
      const namespace = p.namespace ?? client.namespaceOr('default');
      if (p.workload)
        return new StatefulSetProvider({
          name: p.name,
          client,
          namespace,
          statefulSet: p.workload.statefulSet,
          volumes: p.workload.volumes,
          address: p.workload.address,
          serviceType: p.workload.serviceType,
          configMap: p.workload.configMap,
          pool: deps.pool,
          log: deps.log,
        });
      if (!p.nodePool || !deps.machines)
        throw new Error(`kubernetes provider "${p.name}": a node pool needs its machines provider`);
      return new NodePoolProvider({
        name: p.name,
        client,
        machines: deps.machines,
        drainTimeoutMs: p.nodePool.drainTimeout,
        evictionRetryMs: p.nodePool.evictionRetry,
        log: deps.log,
      });
    },
    checkPool: checkKubePool,
    snapshotsInstead:
      "its replicas' claims are snapshotted as VolumeSnapshots instead (workload.volumes: restore: volume-snapshot, onScaleDown: snapshot)",
    checkProviders: checkNodePoolMachines,
    connections: kubeConnections,
    platformNodes: ['kube-pod', 'kube-node'],
    machinesOf: (p) => p.nodePool?.machines,
  }),
  provider({
    config: openstackProviderConfig,
    create: (p, deps) =>
      new OpenstackProvider({
        name: p.name,
        cloud: p.cloud,
        cloudsFile: p.cloudsFile,
        secretFile: p.secretFile,
        region: p.region,
        interface: p.interface,
        servers: p.servers,
        images: p.images && {
          family: p.images.family,
          every: p.images.every,
          keep: p.images.keep,
          timeout: p.images.timeout,
        },
        heat: p.heat && {
          stack: p.heat.stack,
          group: p.heat.group,
          countParameter: p.heat.countParameter,
          removalParameter: p.heat.removalParameter,
          updateTimeoutMs: p.heat.updateTimeout,
        },
        address: p.address,
        ports: p.ports,
        dataDir: p.userData.dataDir,
        bootTimeoutMs: p.bootTimeout,
        retry: {
          attempts: p.retry.attempts,
          baseDelayMs: p.retry.baseDelay,
          maxDelayMs: p.retry.maxDelay,
          callTimeoutMs: p.retry.callTimeout,
        },
        pool: deps.pool,
        log: deps.log,
      }),
    checkPool: checkOpenstackPool,
    checkProviders: checkOpenstackProvider,
  }),
] as const;

/** A `providers[]` entry: one of the registered slices. */
export const providerConfig = unionOf(PROVIDERS);
export type ProviderConfig = z.output<typeof providerConfig>;

/** The plugin of a provider kind. */
export const providerPlugin = (kind: string): ProviderPlugin =>
  pluginOf<ProviderPlugin>(PROVIDERS, kind, 'provider');

/** The provider kinds whose machines can be a node pool's Nodes. */
export const MACHINE_KINDS: readonly string[] = PROVIDERS.filter(
  (p: ProviderPlugin) => p.machinesForNodePools,
).map((p) => kindOf(p.config));

/** Builds the provider a config entry names. */
export function createProvider(p: ProviderConfig, deps: ProviderDeps = {}): Provider {
  return createFrom(PROVIDERS, p, deps, 'provider');
}
