// The HTTP API's schemas: what requests must look like (the handlers validate with these) and
// what answers look like. The OpenAPI document is generated from exactly these.

import { z } from 'zod';

const ms = (description: string) =>
  z
    .number()
    .int()
    .meta({ description: `${description} (ms since the epoch)` });

// ---------------------------------------------------------------- requests

export const PoolParams = z.strictObject({
  pool: z.string().min(1).meta({ description: 'Pool name, as in the config' }),
});

export const RequestParams = z.strictObject({
  id: z.string().min(1).meta({ description: 'Request id, as a write answered it' }),
});

export const HistoryQuery = z.strictObject({
  pool: z.string().min(1).optional().meta({ description: 'Only this pool' }),
  since: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Only records at or after this time, ms since the epoch' }),
  until: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Only records at or before this time, ms since the epoch (actions: started)' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(200)
    .meta({ description: 'At most this many records, the newest ones. Default 200, at most 1000' }),
});

export const NodesQuery = z.strictObject({
  pool: z.string().min(1).optional().meta({ description: 'Only this pool' }),
});

export const SeriesQuery = z.strictObject({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Same as from (kept for older clients)' }),
  from: z.coerce.number().int().min(0).optional().meta({
    description: 'Only points at or after this time, ms since the epoch. Default: an hour before to',
  }),
  to: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Only points at or before this time, ms since the epoch. Default: now' }),
  points: z.coerce
    .number()
    .int()
    .min(10)
    .max(1500)
    .optional()
    .meta({ description: 'At most this many points (a sparkline needs few). Default and most 1500' }),
  nodes: z.enum(['0', '1']).optional().meta({
    description:
      "1: each ready node's own line of every rule metric (from memory: the last hour; at most 50 per metric, the nodes furthest from the aggregate)",
  }),
});

/** Body of POST /pools/{pool}/pause and /resume: nothing, or an empty object. */
export const EmptyBody = z.strictObject({}).meta({ description: 'No fields.' });

export const PoolSizeBody = z.strictObject({
  size: z.number().int().min(0).nullable().meta({
    description:
      'Nodes the pool should have, within its min and max; null returns the pool to automatic sizing by its rules',
  }),
});

export const SnapshotBody = z.strictObject({
  set: z.string().min(1).meta({ description: 'Snapshot set name, as in the config' }),
});

// ---------------------------------------------------------------- answers

export const ErrorBody = z.object({
  error: z.string().meta({ description: 'What was wrong, in words a person can act on' }),
});

export const Reason = z.object({
  code: z.string(),
  text: z.string().meta({ description: 'Plain words: rule, observed value, threshold, cooldown remaining' }),
  rule: z.string().optional(),
  value: z.number().optional(),
  threshold: z.number().optional(),
  cooldownRemainingMs: z.number().optional(),
});

export const SizeBounds = z.object({
  min: z.number().int(),
  capacity: z.number().int(),
  max: z.number().int(),
});

export const RuleInfo = z.object({
  rule: z.string().meta({ description: 'scaleUp.rules[i] or scaleDown.rules[i]' }),
  kind: z.enum(['threshold', 'target']),
  metric: z.string(),
  aggregate: z.string(),
  rate: z.boolean(),
  comparator: z.string().optional(),
  threshold: z.number().optional(),
  target: z.number().optional(),
  text: z.string().meta({ description: 'The rule in words' }),
});

const JoinWayName = z.enum(['snapshot', 'state-sync', 'network']);

const JoinFigure = z.object({
  way: JoinWayName,
  ms: z
    .number()
    .int()
    .meta({ description: 'From its first attempt by this way to ready (or to its timeout)' }),
  at: ms('When the node was ready, or its join timed out'),
  node: z.string(),
  timedOut: z.boolean().meta({ description: 'It did not get there: ms is a lower bound' }),
});

export const Pool = z.object({
  name: z.string(),
  role: z.string(),
  provider: z.string(),
  nodeKind: z.string(),
  upstream: z
    .string()
    .nullable()
    .meta({ description: "The pool whose validator this pool's nodes peer with" }),
  size: SizeBounds.nullable().meta({ description: 'Null for validator pools, which are never scaled' }),
  paused: z.boolean(),
  pausedBy: z.string().nullable(),
  manualSize: z
    .object({ size: z.number().int(), by: z.string(), at: ms('When it was set') })
    .nullable()
    .meta({ description: 'A size set by hand; null when the rules decide' }),
  scaleUpCooldownMs: z.number(),
  scaleDownPeriodMs: z.number(),
  failTolerance: z.number().int(),
  rules: z.array(RuleInfo),
  status: z
    .object({
      at: ms('When the controller last decided for this pool'),
      decision: z.string(),
      ready: z.number().int(),
      live: z.number().int(),
      desired: z.number().int(),
      reasons: z.array(Reason),
    })
    .nullable()
    .meta({ description: 'What the controller last decided; null before its first tick' }),
  health: z.object({
    nodes: z.number().int(),
    failing: z.number().int().meta({ description: 'Nodes whose fail marker is above 0' }),
    worstFailMarker: z.number().int(),
  }),
  joins: z
    .object({
      last: z.array(JoinFigure),
      ways: z
        .array(JoinWayName)
        .meta({ description: 'The ways the pool allows its new nodes to join by (the network always)' }),
      next: z
        .object({ way: JoinWayName, why: z.string() })
        .nullable()
        .meta({ description: 'The way the next join would take once every way the pool allows is there' }),
    })
    .nullable()
    .meta({
      description:
        'How new nodes joined (create to ready, by snapshot, state sync or the network); null for a pool with no choice of ways',
    }),
});

export const Node = z.object({
  id: z.string(),
  pool: z.string(),
  state: z.string().meta({
    description:
      'provisioning, restoring, syncing, ready, draining, deleting (failed and gone are not listed)',
  }),
  ready: z.boolean().meta({ description: 'Counts as capacity' }),
  height: z.number().int().nullable(),
  lag: z.number().int().nullable().meta({ description: "Blocks behind the upstream validator's height" }),
  peers: z.number().int().nullable(),
  catchingUp: z.boolean().nullable(),
  failMarker: z.number().int(),
  failTolerance: z.number().int().nullable().meta({
    description: 'null for a validator: never health-replaced, so its fail marker counts for nothing',
  }),
  registered: z
    .boolean()
    .meta({ description: 'Wired to its upstream (a sentry registered with its validator)' }),
  warm: z.boolean().meta({
    description: 'A warm spare: kept synced, never registered, not capacity; counts against max',
  }),
  connected: z
    .boolean()
    .nullable()
    .meta({ description: 'Whether the upstream is connected to it; null without an upstream' }),
  maintenance: z.string().nullable(),
  detail: z.string().nullable(),
  createdAt: ms('Created'),
  readyAt: z.number().int().nullable(),
});

export const Decision = z.object({
  id: z.number().int().optional(),
  pool: z.string(),
  at: ms('When decided'),
  term: z.number().int(),
  decision: z.string(),
  ready: z.number().int(),
  live: z.number().int(),
  desired: z.number().int(),
  reasons: z.array(Reason),
  actions: z.array(z.string()),
});

export const Action = z.object({
  id: z.string(),
  term: z.number().int(),
  pool: z.string(),
  kind: z.string(),
  nodeId: z.string().optional(),
  cause: z.string(),
  caller: z.string().meta({ description: '`controller`, or who asked (a request’s caller)' }),
  startedAt: ms('Intent recorded'),
  detail: z.record(z.string(), z.unknown()).optional(),
  outcome: z.string().optional().meta({ description: 'Absent while in flight' }),
  outcomeAt: z.number().int().optional(),
  outcomeDetail: z.string().optional(),
});

export const Event = z.object({
  id: z.number().int().optional(),
  at: ms('When'),
  pool: z.string().optional(),
  node: z.string().optional(),
  severity: z.enum(['info', 'warning', 'critical']),
  text: z.string(),
});

export const RequestRecord = z.object({
  id: z.string(),
  at: ms('Asked'),
  kind: z.string(),
  body: z.record(z.string(), z.unknown()),
  caller: z.string(),
  outcome: z
    .enum(['done', 'failed'])
    .optional()
    .meta({ description: 'Absent until the controller has taken it' }),
  outcomeAt: z.number().int().optional(),
  detail: z.string().optional(),
});

export const WriteAnswer = z.object({
  request: RequestRecord,
  message: z.string(),
});

export const WriteRefused = z.object({
  error: z.string().meta({ description: 'Why the controller refused or failed it' }),
  request: RequestRecord,
});

export const HealthAnswer = z.object({ ok: z.literal(true) });

export const ControllerInfo = z.object({
  leading: z.boolean().meta({ description: 'Whether this process acts now (one replica leads)' }),
  term: z.number().int().nullable(),
  holder: z.string(),
  store: z.string(),
  coordination: z.string(),
  evaluationIntervalMs: z.number(),
  now: ms('Server time'),
});

export const SeriesAnswer = z.object({
  pool: z.string(),
  size: SizeBounds.nullable(),
  metrics: z.array(
    z.object({
      id: z.string(),
      metric: z.string(),
      aggregate: z.string(),
      rate: z.boolean(),
      rules: z.array(RuleInfo),
    }),
  ),
  traffic: z
    .array(
      z.object({
        id: z.string(),
        metric: z.string(),
        rate: z.boolean(),
        label: z.string(),
        unit: z.string().nullable(),
      }),
    )
    .meta({ description: "What drives the pool, in the operator's units (the pool's traffic config)" }),
  points: z.array(
    z.object({
      at: z.number().int(),
      ready: z.number().int(),
      live: z.number().int(),
      desired: z.number().int(),
      decision: z.string(),
      values: z
        .array(z.number().nullable())
        .meta({ description: 'One per entry of metrics, null when missing' }),
      traffic: z.array(z.number().nullable()).meta({
        description: 'One per entry of traffic, summed over the ready nodes; null when none reported it',
      }),
      validator: z
        .object({
          status: z.string().nullable().meta({ description: "Failover's detection status" }),
          reachable: z.boolean().nullable(),
          height: z.number().int().nullable(),
          networkHeight: z.number().int().nullable(),
          peers: z.number().int().nullable(),
          signed: z
            .number()
            .int()
            .nullable()
            .meta({ description: 'Of the newest commits failover read at its last poll, those signed' }),
          missed: z.number().int().nullable(),
        })
        .optional()
        .meta({ description: 'Validator pools only' }),
    }),
  ),
  nodeLines: z
    .array(
      z.object({
        metric: z.string().meta({ description: 'Id of the metric (metrics[].id)' }),
        node: z.string(),
        values: z
          .array(z.number().nullable())
          .meta({ description: 'Aligned with points; null where the node had no value' }),
      }),
    )
    .meta({ description: "Each ready node's own value, when asked with nodes=1" }),
  nodesTotal: z
    .number()
    .int()
    .meta({ description: 'Nodes that had a line (more than nodeLines shows when over 50)' }),
  from: ms('Start of the range'),
  to: ms('End of the range'),
  stepMs: z
    .number()
    .int()
    .meta({ description: 'Time between points when the range was thinned to 1500 points; 0 when not' }),
  source: z
    .object({ store: z.number().int(), memory: z.number().int() })
    .meta({ description: 'Points read from the store (sampled every 15 s) and from memory (every tick)' }),
  events: z
    .array(Decision)
    .meta({ description: 'Decisions that changed the size, for the timeline markers' }),
});

export const SnapshotsAnswer = z.object({
  sets: z.array(
    z.object({
      name: z.string(),
      from: z.string(),
      everyMs: z.number().nullable(),
      keep: z.number().int(),
      location: z.string(),
      snapshots: z.array(
        z.object({
          id: z.string(),
          createdAt: z.number().int(),
          height: z.number().int(),
          chainId: z.string(),
          sourceNode: z.string(),
          totalBytes: z.number(),
          files: z.number().int(),
        }),
      ),
      incomplete: z.array(z.string()),
      error: z
        .string()
        .nullable()
        .meta({ description: 'Why the store could not be listed, if it could not' }),
    }),
  ),
  images: z
    .array(
      z.object({
        pool: z.string(),
        provider: z.string(),
        providerKind: z.string(),
        everyMs: z.number().nullable(),
        keep: z.number().int(),
        images: z.array(
          z.object({
            name: z.string(),
            id: z
              .string()
              .nullable()
              .meta({ description: "The platform's id where it is not the name (an AMI's)" }),
            createdAt: z.number().int(),
          }),
        ),
        error: z
          .string()
          .nullable()
          .meta({ description: 'Why the images could not be listed, if they could not' }),
      }),
    )
    .meta({
      description:
        'Machine images baked from pools whose provider bakes them (providers[].images): new nodes boot the newest. Newest first.',
    }),
});

const FailoverView = z.object({
  status: z.enum(['healthy', 'suspect', 'down']),
  since: z.number().meta({ description: 'When the status began, ms since the epoch' }),
  address: z.string().nullable().meta({ description: "The validator's consensus address, as last seen" }),
  lastSignedSeen: z.number().int().nullable(),
  lastPoll: z
    .object({
      at: z.number(),
      reachable: z.boolean(),
      height: z.number().int().nullable(),
      networkHeight: z.number().int().nullable(),
    })
    .nullable(),
  standbyPool: z.string().nullable(),
  blocks: z.array(z.object({ height: z.number().int(), signed: z.boolean() })).meta({
    description:
      'The newest heights failover read (up to 200, oldest first), signed or missed by the validator; empty without a controller in this process',
  }),
  signer: z.object({ pool: z.string(), node: z.string(), since: z.number() }).nullable(),
  fenced: z.array(z.string()),
  transitions: z.array(
    z.object({
      at: z.number(),
      from: z.enum(['healthy', 'suspect', 'down']),
      to: z.enum(['healthy', 'suspect', 'down', 'recovered']),
      summary: z.string(),
    }),
  ),
  dryRun: z
    .object({
      to: z.string(),
      ok: z.boolean(),
      checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
    })
    .nullable()
    .meta({ description: 'What `rampart validator promote` would check now, for the standby node' }),
});

export const ValidatorsAnswer = z.object({
  validators: z.array(
    z.object({
      pool: z.string(),
      failover: FailoverView.nullable(),
      nodes: z.array(Node),
      sentryPools: z.array(
        z.object({
          pool: z.string(),
          min: z.number().int(),
          ready: z.number().int(),
          registered: z.number().int(),
          connected: z.number().int().nullable(),
        }),
      ),
    }),
  ),
  standbyPools: z.array(Pool),
});

export const PoolsAnswer = z.object({ pools: z.array(Pool) });
export const NodesAnswer = z.object({ nodes: z.array(Node) });
export const DecisionsAnswer = z.object({ decisions: z.array(Decision) });
export const ActionsAnswer = z.object({ actions: z.array(Action) });
export const EventsAnswer = z.object({ events: z.array(Event) });

/** Every named schema, by the name the OpenAPI document gives it under components/schemas. */
export const NAMED_SCHEMAS = {
  Error: ErrorBody,
  Reason,
  SizeBounds,
  RuleInfo,
  Pool,
  Node,
  Decision,
  Action,
  Event,
  Request: RequestRecord,
  WriteAnswer,
  WriteRefused,
  Health: HealthAnswer,
  Controller: ControllerInfo,
  Series: SeriesAnswer,
  Snapshots: SnapshotsAnswer,
  Validators: ValidatorsAnswer,
  PoolList: PoolsAnswer,
  NodeList: NodesAnswer,
  DecisionList: DecisionsAnswer,
  ActionList: ActionsAnswer,
  EventList: EventsAnswer,
  EmptyBody,
  PoolSizeBody,
  SnapshotBody,
} as const satisfies Record<string, z.ZodType>;
