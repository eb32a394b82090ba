import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupMembers } from './heat-group.ts';

const link = (stack: string) => [{ rel: 'stack', href: `http://heat/v1/p/stacks/name/${stack}` }];

test('members of a group of servers, in index order, a member without its server yet included', () => {
  const members = groupMembers(
    [
      {
        resource_name: 'nodes',
        physical_resource_id: 'g1',
        resource_type: 'OS::Heat::ResourceGroup',
        resource_status: 'UPDATE_COMPLETE',
        links: link('top'),
      },
      {
        resource_name: 'other',
        physical_resource_id: 'x',
        resource_type: 'OS::Heat::ResourceGroup',
        resource_status: 'CREATE_COMPLETE',
        links: link('top'),
      },
      {
        resource_name: '10',
        physical_resource_id: 's10',
        resource_type: 'OS::Nova::Server',
        resource_status: 'CREATE_COMPLETE',
        parent_resource: 'nodes',
        links: link('g1'),
      },
      {
        resource_name: '2',
        physical_resource_id: 's2',
        resource_type: 'OS::Nova::Server',
        resource_status: 'CREATE_COMPLETE',
        parent_resource: 'nodes',
        links: link('g1'),
      },
      {
        resource_name: '3',
        physical_resource_id: '',
        resource_type: 'OS::Nova::Server',
        resource_status: 'INIT_COMPLETE',
        parent_resource: 'nodes',
        links: link('g1'),
      },
      {
        resource_name: '0',
        physical_resource_id: 'elsewhere',
        resource_type: 'OS::Nova::Server',
        resource_status: 'CREATE_COMPLETE',
        parent_resource: 'other',
        links: link('x'),
      },
    ],
    'nodes',
  );
  assert.deepEqual(members, [
    { name: '2', serverId: 's2', status: 'CREATE_COMPLETE' },
    { name: '3', serverId: undefined, status: 'INIT_COMPLETE' },
    { name: '10', serverId: 's10', status: 'CREATE_COMPLETE' },
  ]);
});

test("members that are nested templates (seed 003's node template) give their server", () => {
  const members = groupMembers(
    [
      {
        resource_name: 'nodes',
        physical_resource_id: 'g1',
        resource_type: 'OS::Heat::ResourceGroup',
        resource_status: 'CREATE_COMPLETE',
        links: link('top'),
      },
      {
        resource_name: '0',
        physical_resource_id: 'n0',
        resource_type: 'etcd_node.yaml',
        resource_status: 'CREATE_COMPLETE',
        parent_resource: 'nodes',
        links: link('g1'),
      },
      {
        resource_name: 'server',
        physical_resource_id: 's0',
        resource_type: 'OS::Nova::Server',
        resource_status: 'CREATE_COMPLETE',
        parent_resource: '0',
        links: link('n0'),
      },
      {
        resource_name: 'port',
        physical_resource_id: 'p0',
        resource_type: 'OS::Neutron::Port',
        resource_status: 'CREATE_COMPLETE',
        parent_resource: '0',
        links: link('n0'),
      },
    ],
    'nodes',
  );
  assert.deepEqual(members, [{ name: '0', serverId: 's0', status: 'CREATE_COMPLETE' }]);
  assert.deepEqual(groupMembers([], 'nodes'), []);
});
