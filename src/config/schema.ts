// The one schema of Rampart's config: its types, its validation and its JSON Schema all
// come from here. It is composed: each plugin kind's section (providers, a pool's node,
// metrics, the store, coordination, alert receivers, snapshot stores) is the union of the
// slices its registry lists; what is Rampart's own (the controller, pools, rules,
// failover) is written here. Durations are written as text (`10s`) and come out as
// milliseconds.

import { z } from 'zod';
import { alertReceiverConfig } from '../alerts/registry.ts';
import {
  durationDefault,
  filePath,
  listen,
  name,
  positiveDuration,
  positiveDurationDefault,
} from '../config-kit/fields.ts';
import { coordinationConfig } from '../coordination/registry.ts';
import type { PoolPolicy, ScaleRule } from '../core/policy.ts';
import { AGGREGATES, COMPARATORS, type Comparator, SCALE_IN_SELECTS } from '../core/types.ts';
import { metricSourceConfig } from '../metrics/registry.ts';
import { nodeKindConfig } from '../nodes/registry.ts';
import { providerConfig } from '../providers/registry.ts';
import { snapshotLeaveOut } from '../snapshots/config.ts';
import { snapshotStoreConfig } from '../snapshots/registry.ts';
import { storeConfig } from '../store/registry.ts';
import { poolPolicyOptions } from './policy-schema.ts';

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
  store: storeConfig.prefault({ kind: 'sqlite' }),
  coordination: coordinationConfig.prefault({ kind: 'embedded' }),
  api: z
    .strictObject({
      /** Address of the HTTP API, the dashboard and /metrics. Default 127.0.0.1:8080. */
      listen: listen.default('127.0.0.1:8080'),
      /**
       * File holding the bearer token every API call must present (relative to the config
       * file's folder). Required when `listen` is not a loopback address.
       */
      tokenFile: filePath().optional(),
      /** Serve HTTPS with this certificate and key (PEM files, relative to the config file's folder). */
      tls: z.strictObject({ cert: filePath(), key: filePath() }).optional(),
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

const snapshotSet = z.strictObject({
  name,
  /** Pool whose nodes are copied: a dedicated full-node pool, or sentries while ready > min. */
  from: name,
  /** Take one on this schedule. Absent: only on demand (rampart snapshot create). */
  every: positiveDuration('6h').optional(),
  /** Complete snapshots kept; older ones are pruned. Default 3. */
  keep: z.number().int().min(1).default(3),
  store: snapshotStoreConfig,
  /** Paths under the data dir snapshots leave out (docs/snapshots.md: what that costs). */
  leaveOut: snapshotLeaveOut,
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
  node: nodeKindConfig,
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
  ...poolPolicyOptions,
  /**
   * What drives the pool, charted on the dashboard in the operator's units (transactions per
   * second, peer bytes, offered load): metric references as the rules', summed over the ready
   * nodes (the per-second rate of a counter with `rate`). Fetched with the rules' metrics;
   * never read by a decision. Default none.
   */
  traffic: z
    .array(
      z.strictObject({
        metric: z.string().min(1),
        rate: z.boolean().default(false),
        /** Shown on the chart. Default: the metric's name. */
        label: z.string().min(1).optional(),
        /** Unit of the summed value, e.g. tx/s, B/s. Default none. */
        unit: z.string().min(1).optional(),
      }),
    )
    .default([]),
});

const alerts = z
  .strictObject({
    /** Where alerts go. Default none: alerts are only logged and recorded. */
    receivers: z.array(alertReceiverConfig).default([]),
    repeatInterval: durationDefault(
      '60s',
      'Time between two sends of a firing alert to Alertmanager receivers; keep it well below their resolve_timeout (default 5m).',
    ),
  })
  .superRefine((a, ctx) => {
    if (a.repeatInterval < 1000)
      ctx.addIssue({ code: 'custom', path: ['repeatInterval'], message: 'at least 1s' });
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
  metrics: z.array(metricSourceConfig).default([]),
  providers: z.array(providerConfig).min(1),
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
