// After a Hub model is chosen in Select Model…: which of its decoder variants to use, each with its size,
// before anything is downloaded. The choice is the `tokenLens.dtype` setting.
import * as vscode from 'vscode';
import type { Log } from './log';

const MEANING: Record<string, string> = {
  fp32: 'full precision',
  fp16: 'float16 weights',
  q8: '8-bit weights (MatMulInteger)',
  q4: '4-bit weights in blocks',
};

/**
 * Lists the repository's variants and writes the pick to `tokenLens.dtype`. Returns false when the user
 * dismissed the list; true otherwise (also when the listing could not be fetched: the setting stays).
 */
export async function pickHubVariant(id: string, log: Log): Promise<boolean> {
  const config = vscode.workspace.getConfiguration('tokenLens');
  if (config.get<boolean>('offline', false)) return true;
  const { listHubVariants, formatBytes } = await import('../core/runtime/hubVariants');
  const remoteHost = config.get<string>('hubEndpoint', '').trim() || undefined;
  let variants;
  try {
    variants = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Listing ${id}` },
      () => listHubVariants(id, { remoteHost, signal: AbortSignal.timeout(15000) }));
  } catch (e) {
    log.info(`Could not list the variants of ${id}: ${(e as Error).message}`);
    return true;
  }
  // One entry per precision: the file `tokenLens.dtype` would pick for it.
  const first = variants.filter((v, i) => variants.findIndex((w) => w.precision === v.precision) === i);
  if (first.length <= 1) return true;
  const current = config.get<string>('dtype', 'auto');
  type Item = vscode.QuickPickItem & { dtype: string };
  const items: Item[] = [
    { label: `${current === 'auto' ? '$(check) ' : ''}auto`, description: `${first[0].file}, ${formatBytes(first[0].bytes)}`, detail: 'Full precision when there is one', dtype: 'auto' },
    ...first.map((v) => ({
      label: `${current === v.precision ? '$(check) ' : ''}${v.precision}`,
      description: `${v.file}, ${formatBytes(v.bytes)}`,
      detail: MEANING[v.precision],
      dtype: v.precision,
    })),
  ];
  const pick = await vscode.window.showQuickPick(items, { title: `Token Lens: which variant of ${id}?`, placeHolder: 'Size of each download shown beside it' });
  if (!pick) return false;
  const inWorkspace = config.inspect<string>('dtype')?.workspaceValue !== undefined;
  await config.update('dtype', pick.dtype === 'auto' && !inWorkspace ? undefined : pick.dtype,
    inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
  return true;
}
