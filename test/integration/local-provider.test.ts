// The provider contract against the local provider: real simnode processes on this host.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simnodeKind } from '../../src/nodes/simnode/simnode-kind.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import { providerContract } from '../contracts/provider.contract.ts';

providerContract('local (simnode processes)', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rampart-local-provider-'));
  const provider = () => new LocalProvider({ name: 'here', dataDir, stopTimeoutMs: 5000 });
  return {
    provider,
    kind: simnodeKind,
    cleanup: async () => {
      const p = provider();
      for (const i of await p.list()) await p.destroy(i);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
