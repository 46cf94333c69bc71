// A safe reader for the pickles inside PyTorch checkpoints (data.pkl) and nanoGPT's meta.pkl.
//
// Pickle is a little stack machine whose GLOBAL + REDUCE opcodes call arbitrary Python functions. This
// reader runs only the opcodes torch.save and pickle.dump emit for plain data, and calls only the
// functions the caller allows, by name, each a JS function that builds data. Anything else stops the
// read with the opcode's name: a pickle can never make Token Lens run code.

/** A Python dict: keys keep their type (ints stay ints). */
export type PyDict = Map<unknown, unknown>;

export type Allowed = Record<string, (...args: unknown[]) => unknown>;

export interface UnpickleOptions {
  /** 'module.name' -> the function REDUCE may call with the pickled arguments. */
  allowed: Allowed;
  /** Builds the object a persistent id (BINPERSID) stands for: torch's tensor storages. */
  persistentLoad?: (pid: unknown) => unknown;
  /** What is being read, for messages. */
  what: string;
}

/** An object that takes a state from BUILD (numpy's dtype and scalars); other BUILD states are ignored. */
export interface Buildable {
  setState(state: unknown): void;
}

const NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT', 0x80: 'PROTO',
  0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS',
  0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');

class Global {
  constructor(readonly fullName: string) {}
}

export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8');
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const fail = (why: string) => new Error(`Cannot read ${opts.what}: ${why}.`);
  const need = (n: number) => {
    if (p + n > bytes.length) throw fail(`it ends inside an opcode at byte ${p} (truncated)`);
    const at = p;
    p += n;
    return at;
  };
  const u8 = () => view.getUint8(need(1));
  const u32 = () => view.getUint32(need(4), true);
  const text = (n: number) => utf8.decode(bytes.subarray(need(n), p));
  const line = () => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) throw fail('it ends inside a GLOBAL name (truncated)');
    const s = utf8.decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw fail('its stack underflows');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw fail('it has no MARK where one is needed');
    const items = stack.splice(i);
    return items.slice(1);
  };
  const top = () => {
    if (stack.length === 0) throw fail('its stack underflows');
    return stack[stack.length - 1];
  };
  const asDict = (d: unknown): PyDict => {
    if (!(d instanceof Map)) throw fail('it sets an item on something that is not a dict');
    return d;
  };
  const asList = (l: unknown): unknown[] => {
    if (!Array.isArray(l)) throw fail('it appends to something that is not a list');
    return l;
  };
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    if (!(full in opts.allowed)) {
      throw fail(`it refers to ${full}, which a model checkpoint does not need (Token Lens never runs code from a pickle)`);
    }
    return new Global(full);
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); break; // FRAME: a length hint
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE (tuples are arrays)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(Number(view.getBigUint64(need(8), true)))); break; // BINUNICODE8
      case 0x43: { const n = u8(); stack.push(bytes.slice(need(n), p)); break; } // SHORT_BINBYTES
      case 0x42: { const n = u32(); stack.push(bytes.slice(need(n), p)); break; } // BINBYTES
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(view.getUint16(need(2), true)); break; // BININT2
      case 0x8a: stack.push(long1(bytes.subarray(need(u8()), p))); break; // LONG1
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4e: stack.push(null); break;
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break;
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; }
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; }
      case 0x73: { const v = pop(); const k = pop(); asDict(top()).set(k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = asDict(top());
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: { const v = pop(); asList(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); asList(top()).push(...items); break; } // APPENDS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw fail(`it reads memo slot ${k}, which was never set`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { const module = line(); stack.push(global(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); stack.push(global(String(module), String(name))); break; }
      case 0x51: { // BINPERSID
        if (!opts.persistentLoad) throw fail('it refers to external data (BINPERSID) where none is expected');
        stack.push(opts.persistentLoad(pop()));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Global) || !Array.isArray(args)) throw fail(`REDUCE at byte ${at} calls something that is not an allowed function`);
        stack.push(opts.allowed[fn.fullName](...args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top() as Partial<Buildable> | null;
        if (obj && typeof obj === 'object' && typeof obj.setState === 'function') obj.setState(state);
        break;
      }
      default: {
        const name = NAMES[op] ?? 'unknown';
        throw fail(`it uses the pickle opcode ${name} (0x${op.toString(16).padStart(2, '0')}) at byte ${at}, ` +
          'which PyTorch checkpoints do not use; Token Lens reads only plain data from pickles');
      }
    }
  }
}

/** A little-endian two's-complement integer, as a number (exact up to 2^53). */
function long1(b: Uint8Array): number {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number(v);
}
