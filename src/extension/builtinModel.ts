// The model every install has: stories260K (TinyStories, MIT), imported at build time into dist/models/ by
// scripts/builtinModel.mjs and shipped in every VSIX. An empty `tokenLens.model` means this model.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const BUILTIN_MODEL_LABEL = 'Built-in: TinyStories (stories260K)';
export const BUILTIN_MODEL_DETAIL = 'A 260K-parameter Llama trained on children\'s stories; ships with Token Lens, works offline';

/** The built-in model's folder inside the extension, or undefined when the build did not write it. */
export function builtinModelFolder(extensionPath: string): string | undefined {
  const folder = path.join(extensionPath, 'dist', 'models', 'stories260K');
  return existsSync(path.join(folder, 'config.json')) ? folder : undefined;
}
