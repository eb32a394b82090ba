// The one schema of Rampart's config: its types, its validation and its JSON Schema all
// come from here. Durations are written as text (`10s`) and come out as milliseconds.

import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import type { PoolPolicy, ScaleRule } from '../core/policy.ts';
import { AGGREGATES, COMPARATORS, type Comparator, SCALE_IN_SELECTS } from '../core/types.ts';

/** What a duration is, for an error about a value that is not text at all (`staleAfter: 10`). */
const NOT_A_DURATION = 'a duration: write it like 10s, 500ms, 5m';
const DURATION_DESCRIPTION = 'A duration: 500ms, 10s, 5m, 6h, 1d or combinations like 1h30m.';

const durationText = z
  .string({ error: NOT_A_DURATION })
  .regex(/^(0|(\d+(\.\d+)?(ms|s|m|h|d))+)$/, { message: 'a duration such as 500ms, 10s, 5m, 6h or 1h30m' });

const duration = durationText
  .transform((text) => parseDuration(text)!)
  .meta({ description: DURATION_DESCRIPTION });

/**
 * An interval or a timeout: 0 would poll without pause or give up at once, so it must be
 * more than 0. `example` is what the error suggests instead (the default, where there is one).
 */
const positiveDuration = (example: string) =>
  durationText
    // Text that is no duration at all has its own error (the regex): only a duration is judged here.
    .refine((text) => (parseDuration(text) ?? 1) > 0, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is too short: must be more than 0, such as ${example}`,
    })
    .transform((text) => parseDuration(text)!)
    .meta({ description: `${DURATION_DESCRIPTION} More than 0.` });

/** A duration with a default, written as text. */
const durationDefault = (text: string, description: string) =>
  duration.prefault(text).meta({ description: `${description} Default ${text}.` });

/** An interval or a timeout with a default: more than 0. */
const positiveDurationDefault = (text: string, description: string) =>
  positiveDuration(text)
    .prefault(text)
    .meta({ description: `${description} More than 0; default ${text}.` });

const NAME = 'a name of lowercase letters, digits and -, starting with a letter';
const name = z.string({ error: NAME }).regex(/^[a-z][a-z0-9-]{0,62}$/, { message: NAME });

/** An http or https URL. */
const httpUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL such as https://host:9093/path' });

const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, { message: 'host:port, e.g. 127.0.0.1:8080' });

/**
 * How Rampart reaches a Kubernetes cluster. Every field absent: in-cluster, from the pod's
 * ServiceAccount (token, CA) and KUBERNETES_SERVICE_HOST / _PORT.
 */
const kubeCluster = z
  .strictObject({
    /** API server URL, e.g. https://10.0.0.1:6443. Default: in-cluster. */
    server: httpUrl.optional(),
    /** CA certificate (PEM file, relative to the config file's folder). Default: the ServiceAccount's. */
    caFile: z.string().min(1).optional(),
    /** File holding a bearer token, re-read as it rotates (a Secret mounted as a file). Default: the ServiceAccount's. */
    tokenFile: z.string().min(1).optional(),
  })
  .prefault({});

/** A Kubernetes object name (DNS-1123 label). */
const kubeName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  message: 'a Kubernetes name: lowercase letters, digits and -, at most 63, starting and ending alphanumeric',
});

const sqliteStore = z.strictObject({
  kind: z.literal('sqlite'),
  /** Database file, relative to the config file's folder. Default .rampart/state.db. */
  path: z.string().min(1).default('.rampart/state.db'),
});

const etcdStore = z.strictObject({
  kind: z.literal('etcd'),
  /** Client URLs of the etcd cluster, e.g. https://10.0.0.5:2379. */
  endpoints: z.array(httpUrl).min(1),
  /** Every key Rampart writes starts with this. Default /rampart/. */
  prefix: z.string().startsWith('/').default('/rampart/'),
  /** TLS to etcd (seed 003's https scheme): files, relative to the config file's folder. */
  tls: z
    .strictObject({
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
    })
    .optional(),
  /** etcd user; the password is read from this file (never written in the config). */
  auth: z.strictObject({ username: z.string().min(1), passwordFile: z.string().min(1) }).optional(),
  /** Longest wait for one etcd call. Default 5s. */
  timeout: positiveDurationDefault('5s', 'Longest wait for one etcd call.'),
});

const controller = z.strictObject({
  evaluationInterval: positiveDurationDefault('10s', 'Time between two decisions for every pool.'),
  /**
   * Decisions, events, and actions and requests that ended, are pruned from the store once
   * older than this (checked hourly by the acting controller). Open ones always stay.
   */
  historyRetention: durationDefault(
    '30d',
    'How long decisions, events and finished actions and requests stay in the store.',
  ),
  store: z.discriminatedUnion('kind', [sqliteStore, etcdStore]).prefault({ kind: 'sqlite' }),
  coordination: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('embedded') }),
      z.strictObject({
        /** Leader election and locks on the store's etcd cluster. */
        kind: z.literal('etcd'),
        /** Leadership lease; a replica that cannot renew it stops acting before it expires. Default 15s. */
        leaseTtl: durationDefault('15s', 'Leadership lease time-to-live.'),
      }),
      z.strictObject({
        /** Leader election on a coordination.k8s.io Lease, for Rampart running in a cluster. */
        kind: z.literal('kubernetes'),
        cluster: kubeCluster,
        /** Namespace of the Lease. Default: the pod's own namespace, else default. */
        namespace: kubeName.optional(),
        /** Name of the Lease. Default rampart. */
        leaseName: kubeName.default('rampart'),
        /** Leadership lease; a replica that cannot renew it stops acting before it expires. Default 15s. */
        leaseTtl: durationDefault('15s', 'Leadership lease duration.'),
      }),
    ])
    .prefault({ kind: 'embedded' }),
  api: z
    .strictObject({
      /** Address of the HTTP API, the dashboard and /metrics. Default 127.0.0.1:8080. */
      listen: listen.default('127.0.0.1:8080'),
      /**
       * File holding the bearer token every API call must present (relative to the config
       * file's folder). Required when `listen` is not a loopback address.
       */
      tokenFile: z.string().min(1).optional(),
      /** Serve HTTPS with this certificate and key (PEM files, relative to the config file's folder). */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /**
       * Names the API may also be reached by (a DNS name, the name a reverse proxy passes
       * on), host names or IP addresses without port. Besides these, a request's Host must be
       * the listen address or a loopback name, else it is refused (DNS rebinding); on 0.0.0.0
       * or :: with a token any Host is taken. Default none.
       */
      allowedHosts: z
        .array(
          z
            .string()
            .regex(
              /^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*)$/i,
              { message: 'a host name or an IP address (IPv6 without brackets), without scheme or port' },
            ),
        )
        .default([]),
      /**
       * Refuse to start unless every connection Rampart serves or makes is TLS: the API
       * (`tls` set), the etcd store (https endpoints) and Kubernetes API servers (https).
       * Mainnet deployments set it (seed 002). Default false.
       */
      requireTls: z.boolean().default(false),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    })
    .prefault({}),
});

const sourceCommon = {
  name,
  timeout: positiveDurationDefault('2s', 'Longest wait for one fetch.'),
  staleAfter: positiveDurationDefault(
    '30s',
    'A sample older than this counts as missing; one stamped further ahead of the clock is refused.',
  ),
};

const metricSource = z.discriminatedUnion('kind', [
  z.strictObject({ ...sourceCommon, kind: z.literal('scrape') }),
  z.strictObject({
    ...sourceCommon,
    kind: z.literal('prometheus'),
    url: httpUrl,
    /** Label whose value names the node a series belongs to. Default instance. */
    nodeLabel: z.string().default('instance'),
  }),
  z.strictObject({
    ...sourceCommon,
    kind: z.literal('netdata'),
    /** Per-node netdata URL; {host} and {node} are replaced. Default http://{host}:19999. */
    urlTemplate: z.string().default('http://{host}:19999'),
  }),
  z.strictObject({
    ...sourceCommon,
    /**
     * The resource metrics API (metrics.k8s.io, served by metrics-server): `NAME:cpu` in
     * cores and `NAME:memory` in bytes, per pod (kube-pod nodes) or per Node (kube-node nodes).
     */
    kind: z.literal('kubernetes'),
    cluster: kubeCluster,
  }),
]);

const localProvider = z.strictObject({
  name,
  kind: z.literal('local'),
  /** Where node data dirs live, relative to the config file's folder. Default .rampart/nodes. */
  dataDir: z.string().default('.rampart/nodes'),
  /** Address the nodes listen on. Default 127.0.0.1. */
  host: z.string().default('127.0.0.1'),
});

/** How long each AWS call may take and how failed calls are retried (throttling, 5xx, timeouts). */
const awsRetry = z.strictObject({
  /** Tries per call, the first included. Default 5. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** First backoff; doubles per retry, with full jitter (throttling waits 5× longer). Default 200ms. */
  baseDelay: positiveDurationDefault('200ms', 'First backoff between two tries of a call.'),
  /** Longest backoff between two tries. Default 10s. */
  maxDelay: positiveDurationDefault('10s', 'Longest backoff between two tries of a call.'),
  /** Longest wait for one try; a try that times out is retried. Default 10s. */
  callTimeout: positiveDurationDefault('10s', 'Longest wait for one try of a call.'),
});

const awsProvider = z.strictObject({
  name,
  kind: z.literal('aws'),
  /** AWS region of the group, e.g. eu-west-1. */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'an AWS region such as eu-west-1' }),
  /** Auto Scaling group holding the pool's instances: one group per pool, owned by Rampart. */
  autoScalingGroup: z.string().min(1).max(255),
  /** Launch template new instances come from. Default: the group's own template and version. */
  launchTemplate: z
    .strictObject({
      name: z.string().min(3).max(128),
      /** A version number, $Latest or $Default. Default $Default. */
      version: z
        .string()
        .regex(/^(\d+|\$Latest|\$Default)$/, { message: 'a version number, $Latest or $Default' })
        .default('$Default'),
    })
    .optional(),
  /** URL of an AWS API emulator (moto, LocalStack). Default: AWS's own endpoints. */
  endpoint: httpUrl.optional(),
  /**
   * Where a node's address comes from: `private-ip` (default), `public-ip`, or
   * `{ tag: NAME }` (the value of that instance tag, set by the image at boot).
   */
  address: z
    .union([z.enum(['private-ip', 'public-ip']), z.strictObject({ tag: z.string().min(1).max(128) })], {
      error: 'private-ip, public-ip or { tag: NAME }',
    })
    .default('private-ip'),
  /** Port of each named port the node kind needs, the same on every instance. Default rpc 26657, p2p 26656, metrics 26660. */
  ports: z
    .record(
      z.string().regex(/^[a-z][a-z0-9-]*$/, { message: 'a port name of lowercase letters, digits and -' }),
      z.number().int().min(1).max(65535),
    )
    .default({ rpc: 26657, p2p: 26656, metrics: 26660 }),
  retry: awsRetry.prefault({}),
  /**
   * A boot script passed as user data (replacing the template's): writes the node's identity
   * and, when the pool bootstraps from an S3 snapshot set, restores the newest snapshot into
   * `dataDir` (checksums verified) before `command` starts the node. Absent: the template's own.
   */
  userData: z
    .strictObject({
      /** Folder on the instance the snapshot is restored into. Default /var/lib/rampart/node. */
      dataDir: z.string().startsWith('/').default('/var/lib/rampart/node'),
      /** Shell command run last, e.g. `systemctl start cometbft`. Default none. */
      command: z.string().optional(),
    })
    .optional(),
});

/** Volumes of a StatefulSet's new replicas, and what happens to them on scale-down. */
const kubeVolumes = z.strictObject({
  /** Name of the StatefulSet's volumeClaimTemplate holding the node's data. */
  claim: kubeName,
  /**
   * Where a new replica's data comes from: `volume-snapshot` (a PVC whose dataSource is the
   * newest ready VolumeSnapshot of the pool — clusters with CSI snapshots), `job` (a restore
   * Job fills a fresh PVC from the newest snapshot of `bootstrap.snapshots`, for hostPath or
   * local volumes), or `none` (an empty volume; the node syncs). Default none.
   */
  restore: z.enum(['volume-snapshot', 'job', 'none']).default('none'),
  /** VolumeSnapshotClass of the snapshots Rampart takes on scale-down. Default: the cluster's default class. */
  snapshotClass: kubeName.optional(),
  /** The restore Job's container (restore: job). It gets RAMPART_SNAPSHOT_URL and the volume at /data. */
  job: z
    .strictObject({
      image: z.string().min(1),
      command: z.array(z.string()).min(1),
      /** ServiceAccount the Job runs as (to reach the snapshot store). Default the namespace's default. */
      serviceAccount: kubeName.optional(),
    })
    .optional(),
  /**
   * What scale-down does with the removed replica's volume: `snapshot` (take a VolumeSnapshot,
   * wait until it is ready, then delete the claim), `retain` (keep the claim; a later replica
   * of that ordinal reuses it), `delete` (delete it without a snapshot: data is lost).
   * Default: snapshot with restore: volume-snapshot, else retain. Never delete unless written.
   */
  onScaleDown: z.enum(['snapshot', 'retain', 'delete']).optional(),
  /**
   * VolumeSnapshots Rampart took that are kept: the newest this many ready ones; older ones
   * go after each scale-down — never one a claim is still being restored from, nor one whose
   * replica's claim awaits its release. Snapshots Rampart did not take are never touched. Default 3.
   */
  keepSnapshots: z.number().int().min(1).default(3),
  /** Longest wait for a VolumeSnapshot to be ready or a restore Job to finish. Default 10m. */
  timeout: positiveDurationDefault(
    '10m',
    'Longest wait for a VolumeSnapshot to be ready or a restore Job to finish.',
  ),
});

const kubeProvider = z
  .strictObject({
    name,
    kind: z.literal('kubernetes'),
    cluster: kubeCluster,
    /** Namespace of the StatefulSet. Default: the pod's own namespace, else default. */
    namespace: kubeName.optional(),
    /**
     * Workload pool: Rampart scales this StatefulSet (sentries, MPC nodes), one replica at a
     * time; each replica is a node. Replicas that were there before Rampart are left alone.
     */
    workload: z
      .strictObject({
        statefulSet: kubeName,
        volumes: kubeVolumes.optional(),
      })
      .optional(),
    /**
     * Node pool: each node is a Kubernetes Node on a machine of the `machines` provider (aws),
     * matched by providerID. Scale-down cordons, drains through the Eviction API (respecting
     * PodDisruptionBudgets), deletes the Node, then the machine.
     */
    nodePool: z
      .strictObject({
        /** Name of the provider (kind aws) whose machines become this pool's Nodes. */
        machines: name,
        /** Longest a drain may take; a drain still blocked then is given up, the node uncordoned. Default 5m. */
        drainTimeout: positiveDurationDefault('5m', 'Longest a drain may take before it is given up.'),
        /** Time between two eviction attempts of a pod a disruption budget protects. Default 5s. */
        evictionRetry: positiveDurationDefault('5s', 'Time between two eviction attempts of a blocked pod.'),
      })
      .optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.workload === undefined) === (p.nodePool === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'give exactly one of workload (a StatefulSet) or nodePool (Nodes on machines)',
      });
    const v = p.workload?.volumes;
    if (v?.restore === 'job' && v.job === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['workload', 'volumes', 'job'],
        message: 'restore: job needs the job container',
      });
  });

const provider = z.discriminatedUnion('kind', [localProvider, awsProvider, kubeProvider]);

const simnodeKind = z.strictObject({
  kind: z.literal('simnode'),
  /** Pool whose node this pool's nodes peer with (a sentry's validator). */
  validatorPool: name.optional(),
  /** Validator block interval in ms. Default 1000. */
  blockTimeMs: z.number().int().positive().optional(),
  /** Blocks per second a catching-up node applies. Default 200. */
  syncRate: z.number().positive().optional(),
  /** Transactions per second one node serves at full utilization. Default 50. */
  txCapacity: z.number().positive().optional(),
  /** Height a validator's chain starts at (an old chain takes long to sync from genesis). */
  startHeight: z.number().int().min(0).optional(),
  chainId: z.string().optional(),
});

/** Binaries the cometbft node kind knows by name: cometbft, and Cosmos SDK daemons. */
export const KNOWN_CHAIN_DAEMONS: readonly string[] = ['cometbft', 'gaiad', 'simd'];

const cometbftKind = z.strictObject({
  kind: z.literal('cometbft'),
  /** Pool whose validator this pool's nodes are sentries of. */
  validatorPool: name.optional(),
  /**
   * Validator pools only: the operator's CometBFT home (keys, config). Rampart runs the
   * validator from it and never creates, copies or moves its keys.
   */
  home: z.string().optional(),
  /**
   * The node's binary: cometbft, or a chain daemon with CometBFT and the application in one
   * process (gaiad). Default: $RAMPART_COMETBFT, the testbed cache's cometbft, then PATH.
   */
  binary: z.string().optional(),
  /**
   * A chain daemon Rampart does not know by its name (KNOWN_CHAIN_DAEMONS): how it makes a
   * home and starts. `{}` says it is a Cosmos SDK daemon (the SDK's init and start).
   */
  daemon: z
    .strictObject({
      /** Arguments that make a home; {moniker}, {chainId} and {home} are filled in. */
      init: z.array(z.string()).default(['init', '{moniker}', '--chain-id', '{chainId}', '--home', '{home}']),
      /** Arguments that start the node from {home}; Rampart adds CometBFT's node flags after them. */
      start: z.array(z.string()).default(['start', '--home', '{home}']),
      /** Whether the daemon has a Cosmos SDK app.toml beside config.toml. Default true. */
      appToml: z.boolean().default(true),
    })
    .optional(),
  /** Chain daemons: the app.toml settings Rampart owns on the nodes it creates (not the validator). */
  app: z
    .strictObject({
      /** e.g. 0.005uatom. Default: the validator home's own minimum-gas-prices. */
      minimumGasPrices: z.string().optional(),
      /** The SDK's pruning strategy for new nodes. Default `default`. */
      pruning: z.enum(['default', 'nothing', 'everything']).default('default'),
      /** Take a state-sync snapshot every N blocks (0: none). Default 0. */
      snapshotInterval: z.number().int().min(0).default(0),
      /** State-sync snapshots to keep. Default 2. */
      snapshotKeepRecent: z.number().int().min(0).default(2),
    })
    .optional(),
  /**
   * New nodes join by CometBFT state sync from the pool's caught-up nodes, which serve the
   * snapshots app.snapshotInterval makes them take: `prefer` it to a file snapshot, or use
   * it as the `fallback` when the pool has none yet. Default: never.
   */
  stateSync: z.enum(['prefer', 'fallback']).optional(),
  /** ABCI application. Default persistent_kvstore (CometBFT's built-in, state on disk). */
  proxyApp: z.string().default('persistent_kvstore'),
  /** genesis.json for new nodes. Default: fetched from the validator's RPC /genesis. */
  genesis: z.string().optional(),
  /** Public peers (id@host:port) new nodes sync from before they are registered. */
  peers: z
    .array(
      z
        .string()
        .regex(/^[0-9a-f]{40}@[^@\s]+:\d{1,5}$/, { message: 'a peer as id@host:port (40 hex digits id)' }),
    )
    .default([]),
  /** A node more than this many blocks behind the tip is not ready. Default 5. */
  maxLagBlocks: z.number().int().min(0).default(5),
  /** Validators: refuse to start if the key signed in the last N blocks. Default 10. */
  doubleSignCheckHeight: z.number().int().min(0).default(10),
  /**
   * Standby pools: the pool whose ready nodes a new node peers with and syncs from (the
   * validator's sentries), as persistent, private and unconditional peers. Default none.
   */
  peerPool: name.optional(),
});

/** The cometbft kind's checks that span its fields. */
const cometbftNode = cometbftKind.superRefine((o, ctx) => {
  const daemon = o.binary?.split('/').pop();
  if (daemon !== undefined && o.daemon === undefined && !KNOWN_CHAIN_DAEMONS.includes(daemon))
    ctx.addIssue({
      code: 'custom',
      path: ['binary'],
      message: `${daemon} is not a daemon Rampart knows (${KNOWN_CHAIN_DAEMONS.join(', ')}): add daemon: {} for a Cosmos SDK daemon, or daemon: { init: [...], start: [...] }`,
    });
  if (o.stateSync !== undefined && !(o.app?.snapshotInterval ?? 0))
    ctx.addIssue({
      code: 'custom',
      path: ['stateSync'],
      message:
        'state sync needs nodes that serve snapshots: set app.snapshotInterval (blocks between snapshots) above 0',
    });
});

const etcdMemberKind = z.strictObject({
  kind: z.literal('etcd-member'),
  /** etcd members form their own cluster: they have no upstream pool. */
  validatorPool: z
    .custom<undefined>((v) => v === undefined, {
      message: 'etcd members form their own cluster: they have no validatorPool',
    })
    .optional(),
  /** etcd binary. Default: $RAMPART_ETCD, then /usr/bin/etcd. */
  binary: z.string().optional(),
  /** New members join as raft learners (non-voting) and are promoted once caught up. Default true. */
  learner: z.boolean().default(true),
  /**
   * A member more than this many raft entries behind the leader's committed index is not
   * ready (and a learner is not promoted). Default 1000.
   */
  maxLagEntries: z.number().int().min(0).default(1000),
  /**
   * Quorum-safe minimum: fewest voting members a removal of a live member may leave.
   * size.min may not be below it. Default 3 (a cluster that survives one member's loss).
   */
  minMembers: z.number().int().min(1).default(3),
  /** Longest wait for one call to a member (membership, status, health). Default 2s. */
  timeout: positiveDurationDefault('2s', 'Longest wait for one call to an etcd member.'),
  /** Extra flags for every member, e.g. --quota-backend-bytes=…, --auto-compaction-retention=1h. Default none. */
  extraArgs: z.array(z.string()).default([]),
});

/** Nodes Kubernetes judges have no upstream pool Rampart wires them to. */
const noValidatorPool = z
  .custom<undefined>((v) => v === undefined, {
    message: 'Kubernetes judges these nodes itself: they have no validatorPool',
  })
  .optional();
/** A pod of a StatefulSet, ready when Kubernetes says so (its readiness probe). */
const kubePodKind = z.strictObject({ kind: z.literal('kube-pod'), validatorPool: noValidatorPool });
/** A Kubernetes worker Node, ready when its kubelet reports Ready. */
const kubeNodeKind = z.strictObject({ kind: z.literal('kube-node'), validatorPool: noValidatorPool });

const nodeKind = z.discriminatedUnion('kind', [
  simnodeKind,
  cometbftNode,
  etcdMemberKind,
  kubePodKind,
  kubeNodeKind,
]);

const snapshotStore = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('directory'),
    /** Folder holding the sets, relative to the config file's folder. */
    path: z.string().min(1),
  }),
  z.strictObject({
    kind: z.literal('s3'),
    bucket: z.string().min(3),
    /** Key prefix. Default none. */
    prefix: z.string().default(''),
    region: z.string().optional(),
    /** URL of an S3-compatible service (MinIO, Ceph, moto). Default AWS. */
    endpoint: httpUrl.optional(),
    forcePathStyle: z.boolean().optional(),
  }),
]);

const snapshotSet = z.strictObject({
  name,
  /** Pool whose nodes are copied: a dedicated full-node pool, or sentries while ready > min. */
  from: name,
  /** Take one on this schedule. Absent: only on demand (rampart snapshot create). */
  every: positiveDuration('6h').optional(),
  /** Complete snapshots kept; older ones are pruned. Default 3. */
  keep: z.number().int().min(1).default(3),
  store: snapshotStore,
});

const STEP = 'a number of nodes (at least 1) or a percentage such as 20%';
const step = z.union(
  [
    z.number().int().min(1, { error: 'at least 1 node, or a percentage such as 20%' }),
    z
      .string()
      .regex(/^\d+(\.\d+)?%$/, { message: STEP })
      .refine((text) => Number.parseFloat(text) !== 0, {
        error: (issue) =>
          `${JSON.stringify(issue.input)} is too small: a percentage step must be more than 0%`,
      }),
  ],
  { error: STEP },
);

/** `[0, 100]`, or the one bound given, as config errors show a valid range. */
const showRange = (v: { min?: number | undefined; max?: number | undefined }): string =>
  `[${v.min ?? '-∞'}, ${v.max ?? '∞'}]`;

/** Whether some value in the valid range makes `value COMPARATOR threshold` true. */
function canHold(comparator: Comparator, threshold: number, min = -Infinity, max = Infinity): boolean {
  switch (comparator) {
    case '>':
      return max > threshold;
    case '>=':
      return max >= threshold;
    case '<':
      return min < threshold;
    case '<=':
      return min <= threshold;
    case '==':
      return min <= threshold && threshold <= max;
  }
}

const validRange = z
  .strictObject({
    /** Smallest value the metric can take. Default: no lower bound. */
    min: z.number().optional(),
    /** Largest value the metric can take. Default: no upper bound. */
    max: z.number().optional(),
  })
  .superRefine((v, ctx) => {
    if (v.min === undefined && v.max === undefined)
      ctx.addIssue({ code: 'custom', message: 'give min, max or both: the range the metric can take' });
    else if (v.min !== undefined && v.max !== undefined && v.min > v.max)
      ctx.addIssue({ code: 'custom', path: ['max'], message: `max (${v.max}) must be ≥ min (${v.min})` });
  })
  .meta({
    description:
      'The range the metric can take, bounds inclusive, either optional (for rate rules: the per-second rate). A value outside it on any node, or one that is not a finite number, holds the rule. Default: any finite number.',
  });

const rule = z
  .strictObject({
    /** `source:expression`, e.g. nodes:cometbft_p2p_peers. */
    metric: z.string().min(3),
    aggregate: z.enum(AGGREGATES).default('avg'),
    comparator: z.enum(COMPARATORS).optional(),
    threshold: z.number().optional(),
    step: step.default(1),
    target: z.number().positive().optional(),
    tolerance: z.number().min(0).max(1).default(0.1),
    /** Use the per-second rate of a counter. Default false. */
    rate: z.boolean().default(false),
    /** The range the metric can take, e.g. { min: 0, max: 100 }; a value outside holds the rule. Default none. */
    valid: validRange.optional(),
  })
  .superRefine((r, ctx) => {
    const isTarget = r.target !== undefined;
    const isThreshold = r.threshold !== undefined || r.comparator !== undefined;
    if (isTarget && isThreshold)
      ctx.addIssue({
        code: 'custom',
        message: 'a rule is either threshold (comparator, threshold) or target, not both',
      });
    else if (!isTarget && (r.threshold === undefined || r.comparator === undefined))
      ctx.addIssue({
        code: 'custom',
        path: r.comparator === undefined ? ['comparator'] : ['threshold'],
        message:
          'a threshold rule needs both comparator (< > <= >= ==) and threshold; a target rule needs target',
      });
    const v = r.valid;
    if (v === undefined || (v.min !== undefined && v.max !== undefined && v.min > v.max)) return;
    if (
      r.comparator !== undefined &&
      r.threshold !== undefined &&
      !canHold(r.comparator, r.threshold, v.min, v.max)
    )
      ctx.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: `${r.comparator} ${r.threshold} is never true for a value in valid ${showRange(v)}: the rule could never fire`,
      });
    if (r.target !== undefined && !canHold('==', r.target, v.min, v.max))
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message: `target ${r.target} is outside valid ${showRange(v)}: the metric could never reach it`,
      });
  })
  .transform((r): ScaleRule => {
    if (r.target !== undefined)
      return {
        kind: 'target',
        metric: r.metric,
        aggregate: r.aggregate,
        target: r.target,
        tolerance: r.tolerance,
        rate: r.rate,
        ...(r.valid === undefined ? {} : { valid: r.valid }),
      };
    return {
      kind: 'threshold',
      metric: r.metric,
      aggregate: r.aggregate,
      comparator: r.comparator!,
      threshold: r.threshold!,
      step: typeof r.step === 'number' ? { nodes: r.step } : { percent: Number.parseFloat(r.step) },
      rate: r.rate,
      ...(r.valid === undefined ? {} : { valid: r.valid }),
    };
  });

const failover = z.strictObject({
  detect: z
    .strictObject({
      pollInterval: positiveDurationDefault(
        '2s',
        'Time between two polls of the validator, apart from the scaling loop.',
      ),
      unreachableFor: durationDefault('10s', 'The validator RPC unreachable this long is an outage.'),
      heightStalledFor: durationDefault(
        '30s',
        "The validator's height unchanged this long while the sentries advance is an outage.",
      ),
      /** The validator's signature absent from this many most recent commits in a row is an outage. Default 5. */
      missedBlocks: z.number().int().min(1).max(100).default(5),
    })
    .prefault({}),
  /** Pool (role standby) where a non-signing standby is brought up on an outage. Default none. */
  standbyPool: name.optional(),
  /** When the validator recovers: keep the standby synced, or remove it. Default keep. */
  onRecovery: z.enum(['keep', 'remove']).default('keep'),
  /** Promote: the old validator must have signed none of the last N blocks. Default 10. */
  fenceBlocks: z.number().int().min(1).max(1000).default(10),
});

const pool = z.strictObject({
  name,
  role: z.enum(['sentry', 'validator', 'standby', 'worker', 'member']),
  provider: name,
  node: nodeKind,
  /** min ≤ capacity ≤ max. Absent for validator pools. */
  size: z
    .strictObject({
      min: z.number().int().min(0),
      capacity: z.number().int().min(0),
      max: z.number().int().min(0),
    })
    .optional(),
  scaleUp: z
    .strictObject({
      cooldown: durationDefault('240s', 'Minimum time between scale-ups.'),
      rules: z.array(rule).default([]),
    })
    .prefault({}),
  scaleDown: z
    .strictObject({
      period: durationDefault('200s', 'Minimum time between scale-downs.'),
      lockAttemptPeriod: durationDefault('10s', 'Minimum time between attempts to take the scale-down lock.'),
      rules: z.array(rule).default([]),
    })
    .prefault({}),
  health: z
    .strictObject({
      checkInterval: positiveDurationDefault('10s', 'Time between health checks.'),
      failTolerance: z.number().int().min(0).default(20),
      joinRetries: z.number().int().min(1).default(10),
      joinTimeout: positiveDurationDefault('10m', 'Longest a provision-to-ready cycle may take.'),
    })
    .prefault({}),
  scaleIn: z
    .strictObject({
      select: z.enum(SCALE_IN_SELECTS).default('least-busy'),
      busyMetric: z.string().optional(),
    })
    .prefault({}),
  /** Where new nodes' state comes from: the newest verified snapshot of a set. */
  bootstrap: z.strictObject({ snapshots: name }).optional(),
  /** Validator pools: outage detection, a standby elsewhere, alerts (src/failover). */
  failover: failover.optional(),
});

const alertReceiverCommon = {
  /** Name in logs and metrics. Default: the kind (alertmanager, webhook), then kind-2, kind-3 for later ones of that kind. */
  name: name.optional(),
  timeout: positiveDurationDefault('5s', 'Longest wait for one delivery (one HTTP POST).'),
};

/** An HTTP header name, and a value on one line (a value with a line break could add headers). */
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'an HTTP header name' });
const headerValue = z.string().regex(/^[^\r\n]*$/, { message: 'a header value on one line' });

const alertReceiver = z.discriminatedUnion('kind', [
  z.strictObject({
    ...alertReceiverCommon,
    /** An Alertmanager (API v2): alerts are POSTed to <url>/api/v2/alerts. */
    kind: z.literal('alertmanager'),
    /** Alertmanager's base URL, e.g. http://127.0.0.1:9093 (with its route prefix, if any). */
    url: httpUrl,
  }),
  z.strictObject({
    ...alertReceiverCommon,
    /** Any HTTP endpoint: one JSON object POSTed per alert state (docs/alerts.md). */
    kind: z.literal('webhook'),
    url: httpUrl,
    /** Headers sent with every POST. Default none. */
    headers: z.record(headerName, headerValue).default({}),
    /** File holding a bearer token, sent as Authorization: Bearer (relative to the config file's folder). */
    tokenFile: z.string().min(1).optional(),
  }),
]);

const alerts = z
  .strictObject({
    /** Where alerts go. Default none: alerts are only logged and recorded. */
    receivers: z.array(alertReceiver).default([]),
    repeatInterval: durationDefault(
      '60s',
      'Time between two sends of a firing alert to Alertmanager receivers; keep it well below their resolve_timeout (default 5m).',
    ),
  })
  .superRefine((a, ctx) => {
    if (a.repeatInterval < 1000)
      ctx.addIssue({ code: 'custom', path: ['repeatInterval'], message: 'at least 1s' });
    a.receivers.forEach((r, i) => {
      if (r.kind === 'webhook' && r.tokenFile !== undefined)
        for (const h of Object.keys(r.headers))
          if (h.toLowerCase() === 'authorization')
            ctx.addIssue({
              code: 'custom',
              path: ['receivers', i, 'headers', h],
              message: 'set either tokenFile or an Authorization header, not both',
            });
      // A user and password in a URL are sent as Authorization: Basic (src/alerts).
      const url = URL.parse(r.url);
      const authorization =
        r.kind === 'webhook' &&
        (r.tokenFile !== undefined ||
          Object.keys(r.headers).some((h) => h.toLowerCase() === 'authorization'));
      if (url !== null && (url.username !== '' || url.password !== '') && authorization)
        ctx.addIssue({
          code: 'custom',
          path: ['receivers', i, 'url'],
          message:
            'the user and password in the url are sent as an Authorization header: set either them, tokenFile or an Authorization header',
        });
    });
  })
  .transform((a) => {
    // Each receiver gets its name: the one written, else its kind (numbered from the second on).
    const seen = new Map<string, number>();
    const receivers = a.receivers.map((r) => {
      const n = (seen.get(r.kind) ?? 0) + 1;
      seen.set(r.kind, n);
      return { ...r, name: r.name ?? (n === 1 ? r.kind : `${r.kind}-${n}`) };
    });
    return { ...a, receivers };
  })
  .superRefine((a, ctx) => {
    const names = new Set<string>();
    a.receivers.forEach((r, i) => {
      if (names.has(r.name))
        ctx.addIssue({
          code: 'custom',
          path: ['receivers', i, 'name'],
          message: `"${r.name}" names another receiver too: give each receiver its own name`,
        });
      names.add(r.name);
    });
  });

export const configSchema = z.strictObject({
  version: z.literal(1),
  controller: controller.prefault({}),
  metrics: z.array(metricSource).default([]),
  providers: z.array(provider).min(1),
  pools: z.array(pool).min(1),
  snapshots: z.array(snapshotSet).default([]),
  /** Alert receivers (Alertmanager, webhooks). Default none. */
  alerts: alerts.prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type PoolConfig = Config['pools'][number];
export type ProviderConfig = Config['providers'][number];
export type MetricSourceConfig = Config['metrics'][number];
export type NodeKindConfig = PoolConfig['node'];
export type SnapshotSetConfig = Config['snapshots'][number];
export type SnapshotStoreConfig = SnapshotSetConfig['store'];
export type AlertsConfig = Config['alerts'];
export type KubeProviderConfig = Extract<ProviderConfig, { kind: 'kubernetes' }>;
export type KubeVolumesConfig = NonNullable<NonNullable<KubeProviderConfig['workload']>['volumes']>;
export type AlertReceiverConfig = AlertsConfig['receivers'][number];

// A validated pool is a core policy: the compiler checks the two stay in step.
const _poolIsPolicy = (p: PoolConfig): PoolPolicy => p;
void _poolIsPolicy;

/** The JSON Schema of the config file as a person writes it (durations as text). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
}
