// A webview outside VS Code: its production bundle and CSP served on 127.0.0.1 with a theme's
// --vscode-* variables, a recorded fixture and a stub acquireVsCodeApi, opened in Chromium.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import html from '../../src/extension/webviewHtml.ts';
import { chromiumPath } from '../e2e/setup.mjs';

const { webviewHtml } = html; // a CommonJS module under tsx
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** Builds webview/<name>/main.ts and serves it; returns the page's base URL, the browser and a closer. */
export async function serveWebview({ name, title, stub, fixture }) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `token-lens-${name}-`));
  await esbuild.build({ entryPoints: [path.join(root, `webview/${name}/main.ts`)], bundle: true, platform: 'browser',
    format: 'iife', target: 'es2022', outfile: path.join(out, `${name}.js`), logLevel: 'warning' });
  const files = {
    [`/dist/${name}.js`]: [path.join(out, `${name}.js`), 'text/javascript'],
    [`/dist/${name}.css`]: [path.join(out, `${name}.css`), 'text/css'],
    '/stub.js': [path.join(here, stub), 'text/javascript'],
  };
  const fixtureJs = `window.__fixture = ${JSON.stringify(fixture)};`;
  let base = '';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, base);
    const theme = /^\/themes\/(dark|light|hc)\.css$/.exec(url.pathname);
    if (url.pathname === '/') {
      const nonce = 'TestNonce0123456789abcdef';
      let html = webviewHtml({ cspSource: base, nonce, scriptUri: `${base}/dist/${name}.js`, styleUri: `${base}/dist/${name}.css`, title });
      // The workbench injects theme variables before the panel's own stylesheet and acquireVsCodeApi before its script.
      html = html.replace('<link rel="stylesheet"', `<link rel="stylesheet" href="${base}/themes/${url.searchParams.get('theme') || 'dark'}.css">\n<link rel="stylesheet"`)
        .replace(`<script nonce="${nonce}" src`, `<script nonce="${nonce}" src="${base}/fixture.js"></script>\n<script nonce="${nonce}" src="${base}/stub.js"></script>\n<script nonce="${nonce}" src`);
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else if (url.pathname === '/fixture.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(fixtureJs);
    } else if (theme) {
      res.writeHead(200, { 'content-type': 'text/css' }).end(fs.readFileSync(path.join(here, 'themes', `${theme[1]}.css`)));
    } else if (files[url.pathname]) {
      res.writeHead(200, { 'content-type': files[url.pathname][1] }).end(fs.readFileSync(files[url.pathname][0]));
    } else if (url.pathname === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  const closeServer = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  const cleanUp = () => fs.rmSync(out, { recursive: true, force: true });
  let browser;
  try {
    await new Promise((r, reject) => server.once('error', reject).listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
    browser = await chromium.launch({ executablePath: chromiumPath, timeout: 60_000, args: ['--no-sandbox', '--disable-gpu',
      '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  } catch (e) {
    // Nothing may outlive a failed set-up: an open server would keep the test process alive.
    await closeServer();
    cleanUp();
    throw new Error(`${e.message.split('\n')[0]}${fs.existsSync(chromiumPath) ? '' : ` (no browser at ${chromiumPath}: run \`npm run test:e2e:setup\`)`}`);
  }
  return {
    base,
    browser,
    /** A fresh page, collecting script errors. */
    async open(query, viewport) {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await page.goto(`${base}/?${query}`);
      return { page, context, errors };
    },
    async close() {
      try {
        await browser.close();
      } finally {
        await closeServer();
        cleanUp();
      }
    },
  };
}
