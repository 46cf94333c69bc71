// A local stand-in for the Hugging Face Hub: serves test/fixtures/hub (and a test's own folders) under
// /{owner}/{name}/resolve/main/{file}, and the tree API /api/models/{owner}/{name}/tree/main/{dir} that
// lists a folder's files with their sizes.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export const HUB_FIXTURES = path.join(__dirname, '..', 'fixtures', 'hub');

export interface HubServer { host: string; requests: string[]; close: () => Promise<void> }

/**
 * Repositories named local-* are folders under `localRoot`; the others are fixtures. `bytesPerSecond`
 * paces each file's body, as a slow link would, so that a download's progress can be watched.
 */
export async function startHub(localRoot: string, opts: { bytesPerSecond?: number } = {}): Promise<HubServer> {
  const requests: string[] = [];
  const rootOf = (repo: string) => (repo.startsWith('local-') ? localRoot : HUB_FIXTURES);
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    requests.push(`${req.method} ${url}`);
    const tree = /^\/api\/models\/token-lens-test\/([\w.-]+)\/tree\/main\/(.*)$/.exec(url);
    if (tree) {
      const dir = path.join(rootOf(tree[1]), tree[1], tree[2]);
      if (!fs.existsSync(dir)) return void res.writeHead(404).end('{"error":"not found"}');
      const list = fs.readdirSync(dir).map((f) => {
        const stat = fs.statSync(path.join(dir, f));
        const p = path.posix.join(tree[2], f);
        // The Hub reports LFS files' size under lfs.size (and the pointer's size as size).
        return stat.isDirectory() ? { type: 'directory', path: p, size: 0 } : { type: 'file', path: p, size: 134, lfs: { size: stat.size } };
      });
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
    }
    const m = /^\/token-lens-test\/([\w.-]+)\/resolve\/main\/(.+)$/.exec(url);
    const root = m && rootOf(m[1]);
    const file = m && path.join(root!, m[1], m[2]);
    if (!file || !file.startsWith(root!) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      return void res.writeHead(404).end('not found');
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD' || !opts.bytesPerSecond) return void res.end(req.method === 'HEAD' ? undefined : body);
    sendPaced(res, body, opts.bytesPerSecond);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Writes `body` in 64 KB chunks at `bytesPerSecond`; stops when the client goes away. */
function sendPaced(res: http.ServerResponse, body: Buffer, bytesPerSecond: number): void {
  const CHUNK = 64 * 1024;
  let at = 0;
  const next = () => {
    if (res.destroyed) return;
    if (at >= body.length) return void res.end();
    res.write(body.subarray(at, (at += CHUNK)));
    setTimeout(next, (CHUNK / bytesPerSecond) * 1000);
  };
  next();
}
