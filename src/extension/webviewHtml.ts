// The HTML shell of every Token Lens webview, written by the extension host. A plain string builder (no vscode),
// so the browser tests serve the same page. The CSP allows only the extension's own files and one nonce'd script:
// no inline styles, no remote hosts.

export interface WebviewHtmlOptions {
  /** `webview.cspSource` */
  cspSource: string;
  /** Fresh per render; at least 16 characters of [A-Za-z0-9]. */
  nonce: string;
  scriptUri: string;
  styleUri: string;
  title: string;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function webviewHtml({ cspSource, nonce, scriptUri, styleUri, title }: WebviewHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce)) throw new Error('nonce must be at least 16 base64/alphanumeric characters');
  // VS Code's webview.cspSource is a list such as "'self' https://*.vscode-cdn.net".
  const sources = cspSource.trim().split(/\s+/);
  if (!sources.every((t) => t === "'self'" || /^[^\s;'"<>]+$/.test(t))) {
    throw new Error('cspSource must be CSP source expressions (hosts or \'self\')');
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(cspSource, nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(styleUri)}">
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="app" aria-busy="true"></main>
<script nonce="${nonce}" src="${escapeHtml(scriptUri)}"></script>
</body>
</html>
`;
}
