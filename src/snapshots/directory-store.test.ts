import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { snapshotStoreContract } from '../../test/contracts/snapshot-store.contract.ts';
import { DirectorySnapshotStore } from './directory-store.ts';

snapshotStoreContract(
  'directory',
  async () => new DirectorySnapshotStore(mkdtempSync(path.join(tmpdir(), 'rampart-snapstore-'))),
);
