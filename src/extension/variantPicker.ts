// After a Hub model is chosen in Select Model…: which of its decoder variants to use, each with its size,
// before anything is downloaded. The choice is the `tokenLens.dtype` setting.
import * as vscode from 'vscode';
import type { Log } from './log';
import { variantItems } from './variantItems';

/**
 * Lists the repository's variants and writes the pick to `tokenLens.dtype`. Returns false when the user
 * dismissed the list; true otherwise (also when the listing could not be fetched: the setting stays).
 */
export async function pickHubVariant(id: string, log: Log): Promise<boolean> {
  const config = vscode.workspace.getConfiguration('tokenLens');
  if (config.get<boolean>('offline', false)) return true;
  const { listHubVariants } = await import('../core/runtime/hubVariants');
  const remoteHost = config.get<string>('hubEndpoint', '').trim() || undefined;
  let variants;
  try {
    variants = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Listing ${id}` },
      () => listHubVariants(id, { remoteHost, signal: AbortSignal.timeout(15000) }));
  } catch (e) {
    log.info(`Could not list the variants of ${id}: ${(e as Error).message}`);
    return true;
  }
  const items = variantItems(variants, config.get<string>('dtype', 'auto'));
  if (!items.length) return true;
  const pick = await vscode.window.showQuickPick(items, { title: `Token Lens: which variant of ${id}?`, placeHolder: 'Size of each download shown beside it' });
  if (!pick) return false;
  const inWorkspace = config.inspect<string>('dtype')?.workspaceValue !== undefined;
  await config.update('dtype', pick.dtype === 'auto' && !inWorkspace ? undefined : pick.dtype,
    inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
  return true;
}
