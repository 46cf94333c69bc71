// The host trusts nothing a webview posts: a compromised or buggy webview must not make it allocate,
// loop or write without bounds. Every message is checked against its exact shape before it is used.
import { ATTRIBUTION_METHOD_NAMES, type WebviewMessages, type WebviewToHost } from './messages';

/** Limits on what a webview may ask for. */
export const LIMITS = {
  position: 1_000_000,
  tokenId: 10_000_000,
  layerOrHead: 1024,
  tokenText: 1_000,
  text: 100_000,
  temperature: { min: 0.01, max: 10 },
  topK: 1_000_000,
  /** Integrated gradients' steps: each costs a forward and a backward pass. */
  steps: 1024,
} as const;

type Check = (v: unknown) => string | null;

const int = (min: number, max: number): Check => (v) =>
  typeof v !== 'number' || !Number.isInteger(v) ? 'must be an integer'
    : v < min || v > max ? `must be in [${min}, ${max}]` : null;

const num = (min: number, max: number, minExclusive = false): Check => (v) =>
  typeof v !== 'number' || !Number.isFinite(v) ? 'must be a finite number'
    : (minExclusive ? v <= min : v < min) || v > max ? `must be in ${minExclusive ? '(' : '['}${min}, ${max}]` : null;

const str = (maxLength: number): Check => (v) =>
  typeof v !== 'string' ? 'must be a string' : v.length > maxLength ? `must be at most ${maxLength} characters` : null;

const oneOf = (values: readonly string[]): Check => (v) =>
  typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`;
const orNull = (check: Check): Check => (v) => (v === null ? null : check(v));

const schemas: { [K in keyof WebviewMessages]: { [F in keyof WebviewMessages[K]]-?: Check } } = {
  ready: {},
  selectPosition: { position: int(0, LIMITS.position) },
  setControls: {
    temperature: num(LIMITS.temperature.min, LIMITS.temperature.max),
    topK: int(0, LIMITS.topK), // 0 = no top-k cut
    topP: num(0, 1, true),
  },
  requestAttention: { layer: int(0, LIMITS.layerOrHead), head: int(0, LIMITS.layerOrHead) },
  appendToken: { tokenId: int(0, LIMITS.tokenId), text: str(LIMITS.tokenText) },
  insertIntoDocument: { text: str(LIMITS.text) },
  copy: { text: str(LIMITS.text) },
  requestLogitLens: {},
  requestAttribution: {
    method: oneOf(ATTRIBUTION_METHOD_NAMES),
    target: orNull(int(0, LIMITS.tokenId)),
    contrast: orNull(int(0, LIMITS.tokenId)),
    steps: int(1, LIMITS.steps),
  },
  cancelLens: {},
  compareWith: {},
};

/** Returns the message, typed, when it is exactly one of the webview->host messages; otherwise an Error saying why. */
export function validateWebviewMessage(x: unknown): WebviewToHost | Error {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return new Error('message must be an object');
  const msg = x as Record<string, unknown>;
  const type = msg.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(schemas, type)) {
    return new Error(`unknown message type ${JSON.stringify(String(type)).slice(0, 60)}`);
  }
  const schema = schemas[type as keyof WebviewMessages] as Record<string, Check>;
  for (const key of Object.keys(msg)) {
    if (key !== 'type' && !Object.prototype.hasOwnProperty.call(schema, key)) {
      return new Error(`${type}: unexpected field ${JSON.stringify(key).slice(0, 60)}`);
    }
  }
  for (const [field, check] of Object.entries(schema)) {
    const problem = check(msg[field]);
    if (problem) return new Error(`${type}.${field} ${problem}`);
  }
  return msg as unknown as WebviewToHost;
}
