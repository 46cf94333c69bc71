// The one handle a webview has on its host. acquireVsCodeApi may be called only once per page.
import type { WebviewToHost } from '../../src/protocol/messages';

interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}

declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

export interface Host<S> {
  post(message: WebviewToHost): void;
  getState(): S | undefined;
  setState(state: S): void;
}

export function connect<S>(): Host<S> {
  const api = acquireVsCodeApi<S>();
  return {
    post: (message) => api.postMessage(message),
    getState: () => api.getState(),
    setState: (state) => api.setState(state),
  };
}
