// Snapshot store on a local (or mounted) directory: <path>/<set>/<id>/files/… and
// <path>/<set>/<id>/manifest.json, the manifest written to a temp name and renamed.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseManifest, type SnapshotManifest } from './manifest.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export class DirectorySnapshotStore implements SnapshotStore {
  readonly kind = 'directory';
  readonly location: string;

  constructor(dir: string) {
    this.location = path.resolve(dir);
  }

  #dir(set: string, id: string): string {
    return path.join(this.location, set, id);
  }

  async #ids(set: string): Promise<string[]> {
    try {
      return (await readdir(path.join(this.location, set), { withFileTypes: true }))
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async list(set: string): Promise<SnapshotManifest[]> {
    const out: SnapshotManifest[] = [];
    for (const id of await this.#ids(set)) {
      const file = path.join(this.#dir(set, id), 'manifest.json');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue;
      }
      out.push(parseManifest(text, file));
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }

  async listIncomplete(set: string): Promise<string[]> {
    const out: string[] = [];
    for (const id of await this.#ids(set)) {
      try {
        await stat(path.join(this.#dir(set, id), 'manifest.json'));
      } catch {
        out.push(id);
      }
    }
    return out.sort();
  }

  async putFile(set: string, id: string, relPath: string, body: Readable): Promise<void> {
    const dest = path.join(this.#dir(set, id), 'files', relPath);
    await mkdir(path.dirname(dest), { recursive: true });
    await pipeline(body, createWriteStream(dest));
  }

  async putManifest(m: SnapshotManifest): Promise<void> {
    const dir = this.#dir(m.set, m.id);
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, '.manifest.json.tmp');
    await writeFile(tmp, `${JSON.stringify(m, null, 2)}\n`);
    await rename(tmp, path.join(dir, 'manifest.json'));
  }

  localFile(set: string, id: string, relPath: string): string {
    const files = path.join(this.#dir(set, id), 'files');
    const file = path.join(files, relPath);
    if (!file.startsWith(files + path.sep)) throw new Error(`${relPath} leaves the snapshot's folder`);
    return file;
  }

  async getFile(set: string, id: string, relPath: string): Promise<Readable> {
    const file = path.join(this.#dir(set, id), 'files', relPath);
    await stat(file);
    return createReadStream(file);
  }

  async remove(set: string, id: string): Promise<void> {
    const dir = this.#dir(set, id);
    await rm(path.join(dir, 'manifest.json'), { force: true });
    await rm(dir, { recursive: true, force: true });
  }
}
