// Lifecycle hooks, where the group has them: an instance Rampart attaches or terminates may
// wait in Pending:Wait or Terminating:Wait until its hook is completed. Rampart has already
// done what such a hook is for (the node kind's join check gates capacity; the drain and
// deregistration ran before the terminate), so it completes the hook with CONTINUE at once
// instead of leaving the instance to wait out the heartbeat. Completion is best effort: a
// hook left incomplete only delays the instance until its timeout and default result.

import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
} from '@aws-sdk/client-auto-scaling';
import { AwsCallError, type CallOptions, callAws } from './aws-call.ts';

export type Transition = 'launching' | 'terminating';

const TRANSITIONS: Record<Transition, string> = {
  launching: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminating: 'autoscaling:EC2_INSTANCE_TERMINATING',
};

/** How long the list of hooks is trusted before it is read again, ms. */
const HOOKS_TTL_MS = 60_000;

export interface HookOutcome {
  readonly hook: string;
  readonly completed: boolean;
  readonly detail?: string | undefined;
}

export class LifecycleHooks {
  readonly #client: AutoScalingClient;
  readonly #group: string;
  readonly #opts: CallOptions;
  #hooks: { names: Map<Transition, string[]>; at: number } | undefined;
  /** Set once the endpoint shows it has no CompleteLifecycleAction (moto): not asked again. */
  #unsupported: string | undefined;

  constructor(client: AutoScalingClient, group: string, opts: CallOptions) {
    this.#client = client;
    this.#group = group;
    this.#opts = opts;
  }

  /** Names of the group's hooks for `transition`, read at most once a minute. */
  async names(transition: Transition): Promise<string[]> {
    if (!this.#hooks || Date.now() - this.#hooks.at > HOOKS_TTL_MS) {
      const out = await callAws(
        { call: 'DescribeLifecycleHooks', group: this.#group },
        this.#opts,
        (signal) =>
          this.#client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: this.#group }), {
            abortSignal: signal,
          }),
      );
      const names = new Map<Transition, string[]>();
      for (const [t, aws] of Object.entries(TRANSITIONS) as [Transition, string][])
        names.set(
          t,
          (out.LifecycleHooks ?? [])
            .filter((h) => h.LifecycleTransition === aws && h.LifecycleHookName)
            .map((h) => h.LifecycleHookName!),
        );
      this.#hooks = { names, at: Date.now() };
    }
    return this.#hooks.names.get(transition) ?? [];
  }

  /**
   * Completes every `transition` hook of the group for `instanceId` with CONTINUE. Never
   * throws: each hook's outcome is returned for the caller to report.
   */
  async continue(instanceId: string, transition: Transition): Promise<HookOutcome[]> {
    let names: string[];
    try {
      names = await this.names(transition);
    } catch (e) {
      return [{ hook: '(all)', completed: false, detail: (e as Error).message }];
    }
    const outcomes: HookOutcome[] = [];
    for (const hook of names) {
      if (this.#unsupported) {
        outcomes.push({ hook, completed: false, detail: this.#unsupported });
        continue;
      }
      try {
        await callAws(
          {
            call: 'CompleteLifecycleAction',
            group: this.#group,
            subject: `hook ${hook}, instance ${instanceId}`,
          },
          // One retry at most: an incomplete hook only delays the instance.
          {
            ...this.#opts,
            policy: { ...this.#opts.policy, attempts: Math.min(2, this.#opts.policy.attempts) },
          },
          (signal) =>
            this.#client.send(
              new CompleteLifecycleActionCommand({
                AutoScalingGroupName: this.#group,
                LifecycleHookName: hook,
                InstanceId: instanceId,
                LifecycleActionResult: 'CONTINUE',
              }),
              { abortSignal: signal },
            ),
        );
        outcomes.push({ hook, completed: true });
      } catch (e) {
        const message = (e as Error).message;
        // No action waiting on this hook for the instance (it never entered a wait state): fine.
        if (e instanceof AwsCallError && /No active Lifecycle Action/i.test(message)) {
          outcomes.push({ hook, completed: true, detail: 'no action was waiting' });
          continue;
        }
        // An endpoint without the call answers with something that is not an AWS error at all.
        if (
          /Deserialization error|parse error|not (yet )?implemented|InvalidAction|UnknownOperation/i.test(
            message,
          )
        )
          this.#unsupported = `the endpoint does not implement CompleteLifecycleAction (${message})`;
        outcomes.push({ hook, completed: false, detail: message });
      }
    }
    return outcomes;
  }
}
