// A local stand-in for the Hugging Face Hub: serves model folders under /{owner}/{name}/resolve/main/{file},
// and the tree API /api/models/{owner}/{name}/tree/main/{dir} that lists a folder's files with their sizes.
// transformers.js downloads through it once `remoteHost` points here: the real download and cache path.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export const HUB_FIXTURES = path.join(__dirname, '..', 'fixtures', 'hub');

export interface HubServer {
  host: string;
  /** Every request, as `METHOD /decoded/path`. */
  requests: string[];
  close: () => Promise<void>;
}

export interface HubOptions {
  /** Wait this long before each answer (downloads that overlap). */
  delayMs?: number;
  /** Files (paths inside the repository) whose body starts and never finishes: the client has to cancel. */
  stall?: (file: string) => boolean;
  /** Paces each file's body, as a slow link would, so that a download's progress can be watched. */
  bytesPerSecond?: number;
}

/** Serves each repository id ("owner/name") from the folder `folderOf` names; undefined: 404. */
export async function serveHub(folderOf: (repo: string) => string | undefined, opts: HubOptions = {}): Promise<HubServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    requests.push(`${req.method} ${url}`);
    const answer = () => {
      const tree = /^\/api\/models\/([\w.-]+\/[\w.-]+)\/tree\/main\/(.*)$/.exec(url);
      if (tree) return listFolder(res, folderOf(tree[1]), tree[2]);
      const m = /^\/([\w.-]+\/[\w.-]+)\/resolve\/main\/(.+)$/.exec(url);
      const root = m ? folderOf(m[1]) : undefined;
      const file = root && path.join(root, m![2]);
      if (!file || !file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        return void res.writeHead(404).end('not found');
      }
      const body = fs.readFileSync(file);
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') return void res.end();
      if (opts.stall?.(m![2])) return void res.write(body.subarray(0, 10));
      if (opts.bytesPerSecond) return sendPaced(res, body, opts.bytesPerSecond);
      res.end(body);
    };
    if (opts.delayMs) setTimeout(answer, opts.delayMs);
    else answer();
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

/** One repository at `folder` as `id` (e.g. token-lens-test/tiny). */
export function serveFolder(id: string, folder: string, opts: HubOptions = {}): Promise<HubServer> {
  return serveHub((repo) => (repo === id ? folder : undefined), opts);
}

/** test/fixtures/hub as token-lens-test/{folder}; repositories named local-* are folders under `localRoot`. */
export function startHub(localRoot: string, opts: HubOptions = {}): Promise<HubServer> {
  return serveHub((repo) => {
    const m = /^token-lens-test\/([\w.-]+)$/.exec(repo);
    return m ? path.join(m[1].startsWith('local-') ? localRoot : HUB_FIXTURES, m[1]) : undefined;
  }, opts);
}

function listFolder(res: http.ServerResponse, root: string | undefined, sub: string): void {
  const dir = root && path.join(root, sub);
  if (!dir || !fs.existsSync(dir)) return void res.writeHead(404).end('{"error":"not found"}');
  const list = fs.readdirSync(dir).map((f) => {
    const stat = fs.statSync(path.join(dir, f));
    const p = path.posix.join(sub, f);
    // The Hub reports LFS files' size under lfs.size (and the pointer's size as size).
    return stat.isDirectory() ? { type: 'directory', path: p, size: 0 } : { type: 'file', path: p, size: 134, lfs: { size: stat.size } };
  });
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
}
