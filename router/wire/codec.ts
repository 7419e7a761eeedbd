import { Packr } from 'msgpackr';
import {
  FFR_MAX_FRAME,
  FFR_REPLY_BIT,
  FFR_STR_MAX,
  MESSAGES,
  type FieldType,
  type MessageDef,
  type MessageName,
  type MessageTypes,
} from '../../proto/gen/ffproto.js';
import { eproto } from '../errors.js';

/*
 * What msgpackr emits (checked against msgpackr 1.11): a JS integer number
 * <= 0xffffffff becomes a positive fixint/0xcc/0xcd/0xce, but a larger number
 * becomes a float64 (0xcb), which the C decoder rejects; so u32 fields are
 * range-checked before packing and u64 fields travel as bigint. A bigint
 * becomes int64 (0xd3) below 2^63 and uint64 (0xcf) above; the C decoder
 * accepts a non-negative 0xd3. Small u64 values are packed as numbers so they
 * take the compact uint forms. On decode, `int64AsType: 'bigint'` turns
 * 0xcf/0xd3 into bigint and everything shorter into number.
 */
const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: false });

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const GID_BYTES = 16;

const BY_ID: ReadonlyMap<number, MessageDef> = new Map(
  Object.values(MESSAGES).map((m: MessageDef) => [m.id, m]),
);

export function messageById(id: number): MessageDef | undefined {
  return BY_ID.get(id);
}

/** The three leading integers of every body. */
export interface FrameHeader {
  type: number;
  seq: number;
  status: number;
}

/** A request whose header and fields both decoded; `fields` holds the schema's names. */
export interface DecodedRequest {
  header: FrameHeader;
  def: MessageDef;
  fields: Record<string, unknown>;
}

/** A body whose header decoded but whose type this router does not know. */
export interface UnknownRequest {
  header: FrameHeader;
  def: undefined;
}

function asU32(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(U32_MAX)) return Number(v);
  throw eproto(`${what}: expected u32, got ${describe(v)}`);
}

function asU64(v: unknown, what: string): bigint {
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw eproto(`${what}: expected u64, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `bin(${v.length})`;
  if (typeof v === 'string') return `str(${Buffer.byteLength(v)})`;
  if (typeof v === 'number' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  return v === null ? 'nil' : typeof v;
}

function decodeField(type: FieldType, v: unknown, what: string): unknown {
  switch (type) {
    case 'u32':
      return asU32(v, what);
    case 'u64':
      return asU64(v, what);
    case 'gid':
      if (v instanceof Uint8Array && v.length === GID_BYTES) return Buffer.from(v);
      throw eproto(`${what}: expected a 16-byte bin, got ${describe(v)}`);
    case 'str':
      if (typeof v === 'string' && Buffer.byteLength(v) < FFR_STR_MAX) return v;
      throw eproto(`${what}: expected a str shorter than ${FFR_STR_MAX} bytes, got ${describe(v)}`);
  }
}

function zeroOf(type: FieldType): unknown {
  switch (type) {
    case 'u32':
      return 0;
    case 'u64':
      return 0n;
    case 'gid':
      return Buffer.alloc(GID_BYTES);
    case 'str':
      return '';
  }
}

function unpackArray(body: Buffer): unknown[] {
  if (body.length > FFR_MAX_FRAME) throw eproto(`frame of ${body.length} bytes exceeds FFR_MAX_FRAME`);
  let value: unknown;
  try {
    value = packr.unpack(body);
  } catch (err) {
    throw eproto(`malformed msgpack body: ${(err as Error).message}`);
  }
  if (!Array.isArray(value) || value.length < 3) throw eproto('body is not an array [type, seq, status, ...]');
  return value;
}

/**
 * Decodes a request body. Throws EPROTO (the caller closes the session) for a
 * malformed body; returns `def: undefined` for a well-formed body of a type
 * this router does not know, so the caller can answer ENOSYS.
 *
 * Like the C decoder, a body with fewer fields than the schema lists leaves
 * the rest zero; more fields than listed is malformed.
 */
export function decodeRequest(body: Buffer): DecodedRequest | UnknownRequest {
  const arr = unpackArray(body);
  const header: FrameHeader = {
    type: asU32(arr[0], 'type'),
    seq: asU32(arr[1], 'seq'),
    status: asU32(arr[2], 'status'),
  };
  if (header.type & FFR_REPLY_BIT) throw eproto(`type ${header.type} is a reply, expected a request`);
  if (header.status !== 0) throw eproto(`request carries status ${header.status}`);
  const def = BY_ID.get(header.type);
  if (def === undefined) return { header, def: undefined };
  const values = arr.slice(3);
  if (values.length > def.req.length) {
    throw eproto(`${def.name}: ${values.length} fields, the schema lists ${def.req.length}`);
  }
  const fields: Record<string, unknown> = {};
  def.req.forEach(([name, type], i) => {
    fields[name] = i < values.length ? decodeField(type, values[i], `${def.name}.${name}`) : zeroOf(type);
  });
  return { header, def, fields };
}

function encodeField(type: FieldType, v: unknown, what: string): unknown {
  switch (type) {
    case 'u32':
      return asU32(v, what);
    case 'u64': {
      const x = asU64(v, what);
      return x <= BigInt(U32_MAX) ? Number(x) : x;
    }
    case 'gid':
      if (v instanceof Uint8Array && v.length === GID_BYTES) return Buffer.from(v.buffer, v.byteOffset, v.length);
      throw new TypeError(`${what}: a gid must be 16 bytes, got ${describe(v)}`);
    case 'str':
      if (typeof v === 'string' && Buffer.byteLength(v) < FFR_STR_MAX) return v;
      throw new TypeError(`${what}: a str must be shorter than ${FFR_STR_MAX} bytes, got ${describe(v)}`);
  }
}

/** A reply carrying the message's fields (status FFR_OK). */
export function encodeReply<N extends MessageName>(name: N, seq: number, rep: MessageTypes[N]['rep']): Buffer {
  const def: MessageDef = MESSAGES[name];
  const record = rep as unknown as Record<string, unknown>;
  const arr: unknown[] = [def.id | FFR_REPLY_BIT, seq, 0];
  for (const [field, type] of def.rep) arr.push(encodeField(type, record[field], `${def.name}.${field}`));
  return packr.pack(arr);
}

/** A failed reply: the status only, no fields. */
export function encodeError(type: number, seq: number, status: number): Buffer {
  return packr.pack([(type | FFR_REPLY_BIT) >>> 0, seq >>> 0, status >>> 0]);
}

/**
 * Encodes a request (what the shim sends). The router never sends requests;
 * this exists so tests and tools can speak the protocol with the same code.
 */
export function encodeRequest<N extends MessageName>(name: N, seq: number, req: MessageTypes[N]['req']): Buffer {
  const def: MessageDef = MESSAGES[name];
  const record = req as unknown as Record<string, unknown>;
  const arr: unknown[] = [def.id, seq, 0];
  for (const [field, type] of def.req) arr.push(encodeField(type, record[field], `${def.name}.${field}`));
  return packr.pack(arr);
}

/** Decodes a reply (the shim's side); the counterpart of encodeReply for tests and tools. */
export function decodeReply(body: Buffer): { header: FrameHeader; name?: string; fields: Record<string, unknown> } {
  const arr = unpackArray(body);
  const header: FrameHeader = {
    type: asU32(arr[0], 'type'),
    seq: asU32(arr[1], 'seq'),
    status: asU32(arr[2], 'status'),
  };
  const def = BY_ID.get(header.type & ~FFR_REPLY_BIT);
  const fields: Record<string, unknown> = {};
  if (def === undefined || header.status !== 0) return { header, name: def?.name, fields };
  const values = arr.slice(3);
  if (values.length !== def.rep.length) throw eproto(`${def.name} reply: ${values.length} fields, expected ${def.rep.length}`);
  def.rep.forEach(([name, type], i) => {
    fields[name] = decodeField(type, values[i], `${def.name}.${name}`);
  });
  return { header, name: def.name, fields };
}
