// Where an import builds its folder before the rename, and how a cancelled import ends. Kept apart from
// the importer itself so that the editor can name the folder and clean it up without loading the importer.
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

export class ImportCancelled extends Error {
  constructor() {
    super('The import was cancelled.');
    this.name = 'ImportCancelled';
  }
}

/** The staging folder for `out`: beside it, so that the final rename stays on one file system. */
export function stagingDirFor(out: string): string {
  const abs = resolve(out);
  return join(dirname(abs), `.${basename(abs)}.importing-${process.pid}-${randomBytes(3).toString('hex')}`);
}
