// Heat mode's view of the operator's stack: the members of one OS::Heat::ResourceGroup (each
// an OS::Nova::Server, or a nested stack holding one), and the stack updates that scale it.
// Every update is a PATCH (the stack's template, files and other parameters kept) of two
// parameters: the group's count, and its removal policies naming the member to remove on a
// scale-in, so Heat removes exactly that one and no other. Updates are followed to
// UPDATE_COMPLETE; UPDATE_FAILED (or a rollback) is an error carrying the stack's status reason.

import { setTimeout as sleep } from 'node:timers/promises';
import type { OpenstackSession } from './openstack-session.ts';

export interface HeatGroupOptions {
  readonly stack: string;
  readonly group: string;
  readonly countParameter: string;
  readonly removalParameter: string;
  readonly updateTimeoutMs: number;
  readonly pollMs: number;
  /** `openstack provider NAME (pool P)`, for messages. */
  readonly where: string;
}

/** A member of the group: its name in the group (Heat's index) and its Nova server, once made. */
export interface GroupMember {
  readonly name: string;
  readonly serverId: string | undefined;
  readonly status: string;
}

interface HeatResource {
  readonly resource_name: string;
  readonly physical_resource_id: string;
  readonly resource_type: string;
  readonly resource_status: string;
  readonly parent_resource?: string;
  readonly links?: readonly { rel: string; href: string }[];
}

interface HeatStack {
  readonly id: string;
  readonly stack_name: string;
  readonly stack_status: string;
  readonly stack_status_reason?: string | null;
  readonly updated_time?: string | null;
  readonly parameters?: Readonly<Record<string, string>>;
}

const FAILED = /_FAILED$|^ROLLBACK_/;

/** The members of `group` among a nested listing (nested_depth=2) of the stack's resources. */
export function groupMembers(resources: readonly HeatResource[], group: string): GroupMember[] {
  const byStack = new Map<string, HeatResource[]>();
  for (const r of resources) {
    const stack = r.links
      ?.find((l) => l.rel === 'stack')
      ?.href.split('/')
      .at(-1);
    if (stack) byStack.set(stack, [...(byStack.get(stack) ?? []), r]);
  }
  const top = resources.find((r) => r.resource_name === group && r.parent_resource == null);
  if (!top?.physical_resource_id) return [];
  const members = byStack.get(top.physical_resource_id) ?? [];
  return members
    .map((m) => {
      // A member is a server, or a nested template holding one (seed 003's node template).
      const server =
        m.resource_type === 'OS::Nova::Server'
          ? m
          : (byStack.get(m.physical_resource_id) ?? []).find((r) => r.resource_type === 'OS::Nova::Server');
      return {
        name: m.resource_name,
        serverId: server?.physical_resource_id || undefined,
        status: m.resource_status,
      };
    })
    .sort((a, b) => Number(a.name) - Number(b.name) || a.name.localeCompare(b.name));
}

export class HeatGroup {
  readonly #session: OpenstackSession;
  readonly #o: HeatGroupOptions;
  #path: string | undefined;

  constructor(session: OpenstackSession, o: HeatGroupOptions) {
    this.#session = session;
    this.#o = o;
  }

  /** `/stacks/NAME/ID`, found once by the stack's name (or id). */
  async #stackPath(): Promise<string> {
    if (this.#path) return this.#path;
    const wanted = this.#o.stack;
    const found = (
      await this.#session.call<{ stacks: HeatStack[] }>('find stack', {
        service: 'orchestration',
        method: 'GET',
        path: `/stacks?name=${encodeURIComponent(wanted)}`,
      })
    ).body.stacks.filter((s) => s.stack_name === wanted || s.id === wanted);
    let stack = found[0];
    if (!stack) {
      const byId = await this.#session.call<{ stack: HeatStack }>('show stack', {
        service: 'orchestration',
        method: 'GET',
        path: `/stacks/${encodeURIComponent(wanted)}`,
        accept: [404],
      });
      if (byId.status !== 404) stack = byId.body.stack;
    }
    if (!stack)
      throw new Error(`${this.#o.where}, providers[].heat.stack: no stack ${JSON.stringify(wanted)}`);
    this.#path = `/stacks/${encodeURIComponent(stack.stack_name)}/${stack.id}`;
    return this.#path;
  }

  async stack(): Promise<HeatStack> {
    return (
      await this.#session.call<{ stack: HeatStack }>('show stack', {
        service: 'orchestration',
        method: 'GET',
        path: await this.#stackPath(),
      })
    ).body.stack;
  }

  /** The group's members, in index order. An unknown group is an error naming the field. */
  async members(): Promise<GroupMember[]> {
    const resources = (
      await this.#session.call<{ resources: HeatResource[] }>('list stack resources', {
        service: 'orchestration',
        method: 'GET',
        path: `${await this.#stackPath()}/resources?nested_depth=2`,
      })
    ).body.resources;
    const top = resources.find((r) => r.resource_name === this.#o.group && r.parent_resource == null);
    if (!top)
      throw new Error(
        `${this.#o.where}, providers[].heat.group: stack ${this.#o.stack} has no resource ${JSON.stringify(this.#o.group)} (has ${
          resources
            .filter((r) => r.parent_resource == null)
            .map((r) => r.resource_name)
            .join(', ') || 'none'
        })`,
      );
    if (top.resource_type !== 'OS::Heat::ResourceGroup')
      throw new Error(
        `${this.#o.where}, providers[].heat.group: ${this.#o.group} is a ${top.resource_type}, not an OS::Heat::ResourceGroup`,
      );
    return groupMembers(resources, this.#o.group);
  }

  /** Checks that the stack has both parameters the provider updates, naming the field that is wrong. */
  async check(): Promise<void> {
    const params = (await this.stack()).parameters ?? {};
    for (const [field, name] of [
      ['countParameter', this.#o.countParameter],
      ['removalParameter', this.#o.removalParameter],
    ] as const)
      if (!(name in params))
        throw new Error(
          `${this.#o.where}, providers[].heat.${field}: stack ${this.#o.stack} has no parameter ${JSON.stringify(name)} (has ${Object.keys(
            params,
          )
            .filter((k) => !k.startsWith('OS::'))
            .join(', ')})`,
        );
  }

  /** Waits while an update (someone's, or a dead controller's) is in progress. */
  async settled(subject: string): Promise<HeatStack> {
    const deadline = Date.now() + this.#o.updateTimeoutMs;
    for (;;) {
      const s = await this.stack();
      if (!s.stack_status.endsWith('_IN_PROGRESS')) return s;
      if (Date.now() > deadline)
        throw new Error(
          `${this.#o.where}: stack ${this.#o.stack} is still ${s.stack_status} after ${this.#o.updateTimeoutMs} ms (heat.updateTimeout), before the update for ${subject}`,
        );
      await sleep(this.#o.pollMs);
    }
  }

  /**
   * Sets the count (and, to remove a member, the removal policies) in one PATCH, and follows
   * the update to UPDATE_COMPLETE. `onSent` runs once Heat took it (crash-injection point).
   */
  async update(
    subject: string,
    count: number,
    remove: readonly string[] | undefined,
    onSent?: () => void,
  ): Promise<void> {
    const before = await this.settled(subject);
    await this.#session.call(
      'update stack',
      {
        service: 'orchestration',
        method: 'PATCH',
        path: await this.#stackPath(),
        subject,
        body: {
          parameters: {
            [this.#o.countParameter]: count,
            ...(remove ? { [this.#o.removalParameter]: [{ resource_list: remove }] } : {}),
          },
        },
      },
      // 409: another update holds the stack; the session retries it with backoff.
    );
    onSent?.();
    const deadline = Date.now() + this.#o.updateTimeoutMs;
    for (;;) {
      await sleep(this.#o.pollMs);
      const s = await this.stack();
      // The status read right after the PATCH may still be the previous update's.
      const ours = s.updated_time !== before.updated_time || s.stack_status.endsWith('_IN_PROGRESS');
      if (ours && s.stack_status === 'UPDATE_COMPLETE') return;
      if (ours && FAILED.test(s.stack_status))
        throw new Error(
          `${this.#o.where}: the update of stack ${this.#o.stack} for ${subject} (${this.#o.countParameter}=${count}${
            remove ? `, removing member ${remove.join(', ')}` : ''
          }) ended ${s.stack_status}: ${s.stack_status_reason ?? 'no reason given'}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `${this.#o.where}: the update of stack ${this.#o.stack} for ${subject} is ${s.stack_status} after ${this.#o.updateTimeoutMs} ms (heat.updateTimeout)`,
        );
    }
  }
}
