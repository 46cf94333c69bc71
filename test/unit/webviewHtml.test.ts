// The webview HTML shell: a strict CSP, one nonce'd script, nothing inline, everything escaped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webviewHtml } from '../../src/extension/webviewHtml';

const opts = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  nonce: 'AbCdEfGhIjKlMnOpQrStUv12',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/explain.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/explain.css',
  title: 'Explain <Next> "Token"',
};

test('the CSP allows only the extension files and the nonce', () => {
  const html = webviewHtml(opts);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1];
  assert.equal(csp, "default-src 'none'; img-src https://file+.vscode-resource.vscode-cdn.net data:; "
    + "style-src https://file+.vscode-resource.vscode-cdn.net; script-src 'nonce-AbCdEfGhIjKlMnOpQrStUv12'; "
    + 'font-src https://file+.vscode-resource.vscode-cdn.net');
  assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
  // One script, carrying the nonce and a src; no inline script body, no style attribute or element.
  assert.deepEqual(html.match(/<script[^>]*>/g), [`<script nonce="${opts.nonce}" src="${opts.scriptUri}">`]);
  assert.match(html, /<script[^>]*><\/script>/);
  assert.doesNotMatch(html, /<style|style="/);
  assert.match(html, /<title>Explain &lt;Next&gt; &quot;Token&quot;<\/title>/);
});

test('a weak nonce or an injected CSP source is refused', () => {
  assert.throws(() => webviewHtml({ ...opts, nonce: 'short' }), /nonce/);
  assert.throws(() => webviewHtml({ ...opts, nonce: 'AbCdEfGhIjKlMnOp"><script>' }), /nonce/);
  assert.throws(() => webviewHtml({ ...opts, cspSource: "x; script-src 'unsafe-inline'" }), /cspSource/);
  assert.throws(() => webviewHtml({ ...opts, cspSource: "'unsafe-inline' https://x" }), /cspSource/);
});

test("VS Code's own cspSource, a list with 'self', is taken as it is", () => {
  const cspSource = "'self' https://*.vscode-cdn.net";
  const html = webviewHtml({ ...opts, cspSource });
  assert.match(html, /style-src 'self' https:\/\/\*\.vscode-cdn\.net;/);
});
