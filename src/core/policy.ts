// The policy the core decides with: what a pool's config means once validated. Durations
// are milliseconds. The config module produces values of exactly these shapes.

import type { Aggregate, Comparator, PoolRole, ScaleInSelect } from './types.ts';

/**
 * The values a rule's metric can take, bounds inclusive, either one optional: what the metric
 * means makes anything outside absurd (a CPU idle percentage above 100, a negative peer count).
 * Each node's value (for `rate` rules: its per-second rate) and each pool-level value is checked;
 * one outside holds the rule. Absent: any finite number.
 */
export interface ValidRange {
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

/** How many nodes a threshold rule adds or removes when it fires. */
export type Step = { readonly nodes: number } | { readonly percent: number };

/** `metric COMPARATOR threshold`: fires when true. */
export interface ThresholdRule {
  readonly kind: 'threshold';
  /** `source:expression`, e.g. `nodes:cometbft_p2p_peers`. */
  readonly metric: string;
  readonly aggregate: Aggregate;
  readonly comparator: Comparator;
  readonly threshold: number;
  /** Default 1 node. */
  readonly step: Step;
  /** Use the per-second rate of a counter instead of its value. Default false. */
  readonly rate: boolean;
  /** The range the metric's values can take; a value outside holds the rule. Default: any finite number. */
  readonly valid?: ValidRange | undefined;
}

/** Target tracking: desired = ceil(current × value / target), outside a dead band of ±tolerance. */
export interface TargetRule {
  readonly kind: 'target';
  readonly metric: string;
  readonly aggregate: Aggregate;
  readonly target: number;
  /** Dead band as a fraction of the target. Default 0.1. */
  readonly tolerance: number;
  readonly rate: boolean;
  /** The range the metric's values can take; a value outside holds the rule. Default: any finite number. */
  readonly valid?: ValidRange | undefined;
}

export type ScaleRule = ThresholdRule | TargetRule;

export interface SizePolicy {
  /** Floor that health replacement restores. */
  readonly min: number;
  /** Size the pool returns to when load is low; metric-driven scale-down never goes below it. */
  readonly capacity: number;
  /** Never exceeded, not even during replacement. */
  readonly max: number;
  /**
   * Spare nodes kept synced beside the pool: never registered, never capacity, always counted
   * against max; taken first on scale-up and refilled behind. Default 0 (no warm pool).
   */
  readonly warm?: number | undefined;
}

export interface HealthPolicy {
  /** Time between health checks, ms. Default 10s. */
  readonly checkInterval: number;
  /** A node whose fail marker exceeds this is replaced. Each failed check adds 5, each success takes 1. Default 20. */
  readonly failTolerance: number;
  /** Failed joins before a node is deleted and an alert raised. Default 10. */
  readonly joinRetries: number;
  /** Longest a provision-to-ready cycle may take, ms. Default 10m. */
  readonly joinTimeout: number;
}

export interface PoolPolicy {
  readonly name: string;
  readonly role: PoolRole;
  /** Absent for validator pools, which are never scaled. */
  readonly size?: SizePolicy | undefined;
  readonly scaleUp: {
    /** Minimum time between scale-ups, ms. Default 240s. */
    readonly cooldown: number;
    readonly rules: readonly ScaleRule[];
  };
  readonly scaleDown: {
    /** Minimum time between scale-downs, ms. Default 200s. */
    readonly period: number;
    /** Minimum time between two attempts to take the scale-down lock, ms. Default 10s. */
    readonly lockAttemptPeriod: number;
    readonly rules: readonly ScaleRule[];
  };
  readonly health: HealthPolicy;
  readonly scaleIn: {
    readonly select: ScaleInSelect;
    /** Metric that says how busy a node is (higher = busier); default: the first scale-up rule's. */
    readonly busyMetric?: string | undefined;
  };
  /** Peak hold (scale-down stabilization). Absent: off. */
  readonly hold?: HoldPolicy | undefined;
  /** A dead band against flapping at a boundary. Absent: off. */
  readonly hysteresis?: HysteresisPolicy | undefined;
  /** Predictive scaling from the pool's own history. Absent: off. */
  readonly predict?: PredictPolicy | undefined;
}

/**
 * Peak hold: a metric-driven scale-down never goes below the highest size the scale-up rules
 * asked for over the window (HPA's stabilizationWindowSeconds, GCE's scale-in window).
 */
export interface HoldPolicy {
  /** Window, ms, or `auto`: learnt from the spacing of recent bursts and the provisioning delay. */
  readonly window: number | 'auto';
}

/** A removal waits until the need is this far below the smaller size. */
export interface HysteresisPolicy {
  /**
   * Dead band in nodes, measured from the top of the need's noise over the last 5 minutes; `auto`:
   * half a node from that top, and half a node or twice the noise from the current need.
   */
  readonly band: number | 'auto';
}

/** Sizes the pool one provisioning delay ahead for what its own history forecasts. */
export interface PredictPolicy {
  /** How far ahead, ms, or `auto`: the provisioning delay observed on the pool's nodes. */
  readonly horizon: number | 'auto';
  /** Lowest autocorrelation at which a detected period is trusted, 0–1. Default 0.6. */
  readonly confidence: number;
  /** Also follow a steady trend (a linear fit of the last 5 minutes with R² ≥ 0.9). Default true. */
  readonly trend: boolean;
}
