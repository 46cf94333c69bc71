// One JSON request to a completions server, with a timeout, cancellation and a clear message for each
// way it can fail: nothing listening, a refused or reset connection, no answer in time, 401, 429, an
// error status, a body that is not the JSON promised, a connection dropped halfway through the body; a
// kept-alive connection the server closed while idle is retried once.
import * as http from 'node:http';
import * as https from 'node:https';
import { AnalysisCancelled } from '../../runtime/analysisErrors';

export class RemoteError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'RemoteError';
  }
}

export interface RequestOptions {
  apiKey?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Sends `body` as JSON (GET when undefined) and returns the parsed JSON answer. */
export function requestJson(url: string, body: unknown, opts: RequestOptions): Promise<unknown> {
  return send(url, body, opts, false);
}

function send(url: string, body: unknown, opts: RequestOptions, retried: boolean): Promise<unknown> {
  const target = new URL(url);
  const where = `${target.protocol}//${target.host}`;
  const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new RemoteError(`${url} is not an http:// or https:// address.`));
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new AnalysisCancelled());
    let settled = false;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err); else resolve(value);
    };
    const req = client.request(target, {
      method: payload ? 'POST' : 'GET',
      headers: {
        accept: 'application/json',
        ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => finish(new RemoteError(`${where} closed the connection in the middle of its answer.`)));
      res.on('error', () => finish(new RemoteError(`${where} closed the connection in the middle of its answer.`)));
      res.on('end', () => {
        if (!res.complete) return finish(new RemoteError(`${where} closed the connection in the middle of its answer.`));
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return finish(statusError(where, status, text, res.headers['retry-after']));
        try {
          finish(undefined, JSON.parse(text));
        } catch {
          finish(new RemoteError(`${where} answered with malformed JSON (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))}).`));
        }
      });
    });
    const onAbort = () => { finish(new AnalysisCancelled()); req.destroy(); };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      finish(new RemoteError(`${where} did not answer within ${formatSeconds(opts.timeoutMs)} (the timeout).`));
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive connection the server closed while idle (unnoticed while this thread was busy) fails
      // at once: the request never reached the server, so it goes again once on a new connection.
      if (req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE') && !settled && !retried) {
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        send(url, body, opts, true).then(resolve, reject);
        return;
      }
      finish(connectionError(where, e));
    });
    req.end(payload);
  });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function connectionError(where: string, e: NodeJS.ErrnoException): RemoteError {
  switch (e.code) {
    case 'ECONNREFUSED': return new RemoteError(`Nothing is listening at ${where} (connection refused): is the server running?`);
    case 'ENOTFOUND': case 'EAI_AGAIN': return new RemoteError(`${where}: no such host.`);
    case 'ECONNRESET': case 'EPIPE': return new RemoteError(`${where} closed the connection before answering.`);
    case 'ETIMEDOUT': case 'EHOSTUNREACH': case 'ENETUNREACH': return new RemoteError(`${where} cannot be reached (${e.code}).`);
    default: return new RemoteError(`${where}: ${e.message}`);
  }
}

function statusError(where: string, status: number, body: string, retryAfter?: string | string[]): RemoteError {
  const detail = serverMessage(body);
  if (status === 401 || status === 403) {
    return new RemoteError(`${where} refused the API key (${status}${detail ? `: ${detail}` : ''}). Set the key with "Token Lens: Set Remote API Key" (CLI: TOKEN_LENS_API_KEY).`, status);
  }
  if (status === 429) {
    return new RemoteError(`${where} is rate-limiting requests (429)${retryAfter ? `; retry after ${retryAfter} s` : ''}${detail ? `: ${detail}` : ''}.`, status);
  }
  if (status === 404) return new RemoteError(`${where} has no such endpoint or model (404)${detail ? `: ${detail}` : ''}.`, status);
  return new RemoteError(`${where} answered ${status}${detail ? `: ${detail}` : ''}.`, status);
}

/** The message of an OpenAI-style error body ({"error": {"message"}} or vLLM's {"message"}). */
function serverMessage(body: string): string | undefined {
  try {
    const json = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    const m = typeof json.error === 'string' ? json.error : json.error?.message ?? json.message;
    return typeof m === 'string' ? m.slice(0, 300) : undefined;
  } catch {
    return body.trim().slice(0, 120) || undefined;
  }
}
