// The one protocol definition, seen from both languages: the C header
// (compiled into test/c/build/proto_dump) and the TS module must agree with
// each other and with proto/schema.json; a message encoded by the C codec
// decodes in the router's TS codec and back.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as P from '../proto/gen/ffproto.js';
import { PATHS, ROOT } from './harness/paths.js';

const schema = JSON.parse(readFileSync(join(ROOT, 'proto', 'schema.json'), 'utf8'));
const dump = JSON.parse(execFileSync(PATHS.protoDump, { encoding: 'utf8' })) as {
  constants: Record<string, number>;
  opcode_masks: Record<string, { mask: number; allowed: number[] }>;
  enums: Record<string, number>;
  structs: Record<string, number>;
  fields: Record<string, [number, number]>;
  fds: Record<string, number>;
  messages: { name: string; id: number; index: number; req: [string, string, number][]; rep: [string, string, number][]; reqFds: number; repFds: number }[];
  msgMaxId: number;
};
const TS = P as unknown as Record<string, unknown>;
const SCALAR: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };
const tsEnumName = (e: string) => e.replace(/(^|_)(\w)/g, (_: string, __: string, c: string) => c.toUpperCase());

describe('generated protocol files', () => {
  it('are up to date with proto/schema.json (node proto/gen.mjs --check)', () => {
    execFileSync(process.execPath, [join(ROOT, 'proto', 'gen.mjs'), '--check'], { cwd: ROOT, stdio: 'pipe' });
  });

  it('constants agree (C header, TS module, schema)', () => {
    expect(Object.keys(dump.constants).sort()).toEqual(Object.keys(schema.constants).sort());
    for (const [k, v] of Object.entries(dump.constants)) {
      expect(TS[k], `TS ${k}`).toBe(v);
      expect(schema.constants[k], `schema ${k}`).toBe(v);
    }
  });

  it('per-QP-type opcode sets agree (schema lists, C masks and ffr_opcode_allowed, TS masks)', () => {
    const ops = (schema.enums as Record<string, { values: Record<string, number> }>).ffr_wr_opcode!.values;
    const sets = Object.entries(schema.qp_opcodes as Record<string, string[] | string>).filter(([k]) => k !== 'comment');
    expect(sets.length).toBeGreaterThan(0);
    expect(Object.keys(dump.opcode_masks).sort()).toEqual(sets.map(([t]) => `FFR_QP_OPCODES_${t.replace('FFR_QPT_', '')}`).sort());
    for (const [qpt, names] of sets) {
      const name = `FFR_QP_OPCODES_${qpt.replace('FFR_QPT_', '')}`;
      const allowed = (names as string[]).map((n) => ops[n]!).sort((a, b) => a - b);
      const mask = allowed.reduce((m, op) => m | (1 << op), 0);
      expect(dump.opcode_masks[name]!.mask, `C ${name}`).toBe(mask);
      expect(dump.opcode_masks[name]!.allowed, `C ffr_opcode_allowed(${qpt})`).toEqual(allowed);
      expect(TS[name], `TS ${name}`).toBe(mask);
    }
  });

  it('enum values agree', () => {
    for (const [ename, def] of Object.entries(schema.enums as Record<string, { values: Record<string, number> }>)) {
      const tsEnum = TS[tsEnumName(ename)] as Record<string, number> | undefined;
      expect(tsEnum, `TS enum ${tsEnumName(ename)}`).toBeDefined();
      expect(Object.keys(tsEnum!).sort()).toEqual(Object.keys(def.values).sort());
      for (const [k, v] of Object.entries(def.values)) {
        expect(dump.enums[`${ename}.${k}`], `C ${ename}.${k}`).toBe(v);
        expect(tsEnum![k], `TS ${ename}.${k}`).toBe(v);
      }
    }
  });

  it('struct sizes and field offsets agree (LAYOUTS)', () => {
    const layouts = P.LAYOUTS as unknown as Record<string, { size: number; fields: Record<string, { offset: number; type: string }> }>;
    expect(Object.keys(layouts).sort()).toEqual(Object.keys(dump.structs).sort());
    for (const [sname, size] of Object.entries(dump.structs)) {
      expect(layouts[sname]!.size, `${sname} size`).toBe(size);
      const cFields = Object.entries(dump.fields).filter(([k]) => k.startsWith(`${sname}.`));
      expect(Object.keys(layouts[sname]!.fields).sort()).toEqual(cFields.map(([k]) => k.slice(sname.length + 1)).sort());
      for (const [key, [off, sz]] of cFields) {
        const f = layouts[sname]!.fields[key.slice(sname.length + 1)]!;
        expect(f.offset, `${key} offset`).toBe(off);
        expect(SCALAR[f.type], `${key} size`).toBe(sz);
      }
    }
  });

  it('message ids, field lists and fd lists agree (MESSAGES)', () => {
    const msgs = P.MESSAGES as unknown as Record<string, { name: string; id: number; req: [string, string][]; rep: [string, string][]; reqFds: string[]; repFds: string[] }>;
    expect(Object.keys(msgs).sort()).toEqual(dump.messages.map((m) => m.name).sort());
    expect(dump.msgMaxId).toBe(Math.max(...Object.values(msgs).map((m) => m.id)));
    for (const cm of dump.messages) {
      const tm = msgs[cm.name]!;
      expect(tm.id, `${cm.name} id`).toBe(cm.id);
      expect(cm.index, `${cm.name} table index`).toBe(cm.id);
      expect(tm.req.map(([n, t]) => [n, t]), `${cm.name} req`).toEqual(cm.req.map(([n, t]) => [n, t]));
      expect(tm.rep.map(([n, t]) => [n, t]), `${cm.name} rep`).toEqual(cm.rep.map(([n, t]) => [n, t]));
      expect(tm.reqFds.length).toBe(cm.reqFds);
      expect(tm.repFds.length).toBe(cm.repFds);
      tm.reqFds.forEach((fd, i) => expect(dump.fds[`${cm.name}.req.${fd}`], `${cm.name} req fd ${fd}`).toBe(i));
      tm.repFds.forEach((fd, i) => expect(dump.fds[`${cm.name}.rep.${fd}`], `${cm.name} rep fd ${fd}`).toBe(i));
    }
  });
});

// ------------------------------------------------------------ codec round trip

type Json = Record<string, unknown>;
interface CFrame { name: string; dir: 'req' | 'rep'; type: number; seq: number; status: number; hex: string; fields: Record<string, number | string> }

/** What the test needs of the router's codec, whatever its export names. */
interface Codec {
  encode(name: string, dir: 'req' | 'rep', seq: number, status: number, fields: Json): Uint8Array;
  /** Returns header (type, seq, status) and fields. */
  decode(dir: 'req' | 'rep', buf: Buffer): { type: number; seq: number; status: number; fields: Json };
}

async function loadCodec(): Promise<Codec> {
  const mod = (await import('../router/wire/codec.js')) as unknown as Record<string, (...a: unknown[]) => unknown>;
  const hdr = (r: Json) => (r.header ?? r) as { type: number; seq: number; status: number };
  if (typeof mod.encodeBody === 'function' && typeof mod.decodeBody === 'function') {
    return {
      encode: (n, d, seq, st, f) => mod.encodeBody!(n, d, seq, st, f) as Uint8Array,
      decode: (_d, buf) => { const r = mod.decodeBody!(buf) as Json; return { ...hdr(r), fields: (r.fields ?? {}) as Json }; },
    };
  }
  const need = ['encodeRequest', 'decodeRequest', 'encodeReply', 'decodeReply', 'encodeError'];
  const missing = need.filter((k) => typeof mod[k] !== 'function');
  if (missing.length) throw new Error(`router/wire/codec.ts lacks ${missing.join(', ')} (exports: ${Object.keys(mod).join(', ')})`);
  const msgs = P.MESSAGES as unknown as Record<string, { id: number }>;
  return {
    encode: (n, d, seq, st, f) => {
      if (st !== 0) return mod.encodeError!(msgs[n]!.id, seq, st) as Uint8Array;
      return (d === 'req' ? mod.encodeRequest! : mod.encodeReply!)(n, seq, f) as Uint8Array;
    },
    decode: (d, buf) => {
      const r = (d === 'req' ? mod.decodeRequest! : mod.decodeReply!)(buf) as Json;
      return { ...hdr(r), fields: (r.fields ?? {}) as Json };
    },
  };
}

const msgDef = (name: string) => (P.MESSAGES as unknown as Record<string, { req: [string, string][]; rep: [string, string][] }>)[name]!;

/** C JSON values -> TS wire types (u64 bigint, gid bytes). */
function toTs(name: string, dir: 'req' | 'rep', fields: Record<string, number | string>): Json {
  const out: Json = {};
  for (const [f, t] of msgDef(name)[dir]) {
    const v = fields[f]!;
    out[f] = t === 'u64' ? BigInt(v as string) : t === 'gid' ? Buffer.from(v as string, 'hex') : v;
  }
  return out;
}

/** TS decoded values -> the C JSON shape. */
function toC(name: string, dir: 'req' | 'rep', fields: Json): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [f, t] of msgDef(name)[dir]) {
    const v = fields[f];
    if (t === 'u64') out[f] = String(v);
    else if (t === 'gid') out[f] = Buffer.from(v as Uint8Array).toString('hex');
    else out[f] = v as number | string;
  }
  return out;
}

function stripPrefix(b: Uint8Array): Buffer {
  const buf = Buffer.from(b);
  // tolerate an encoder that returns the whole frame (u32 LE length first)
  return buf.length >= 5 && buf.readUInt32LE(0) === buf.length - 4 ? buf.subarray(4) : buf;
}

describe('control message codec round trip (C proto/c/ffmsg.c <-> TS router/wire/codec.ts)', () => {
  const frames: CFrame[] = execFileSync(PATHS.protoCodec, ['encode'], { encoding: 'utf8' })
    .trim().split('\n').map((l) => JSON.parse(l) as CFrame);

  it('C encodes every message of the schema in both directions', () => {
    expect(frames.length).toBe(2 * schema.messages.list.length);
  });

  it('C-encoded frames decode in TS to the same values', async () => {
    const codec = await loadCodec();
    for (const f of frames) {
      const d = codec.decode(f.dir, Buffer.from(f.hex, 'hex'));
      expect(d.seq, `${f.name} ${f.dir} seq`).toBe(f.seq);
      expect(d.status, `${f.name} ${f.dir} status`).toBe(f.status);
      expect(d.type, `${f.name} ${f.dir} type`).toBe(f.type);
      expect(toC(f.name, f.dir, d.fields), `${f.name} ${f.dir} fields`).toEqual(f.fields);
    }
  });

  it('TS-encoded frames decode in C to the same values', async () => {
    const codec = await loadCodec();
    for (const f of frames) {
      const body = stripPrefix(codec.encode(f.name, f.dir, f.seq, 0, toTs(f.name, f.dir, f.fields)));
      const out = execFileSync(PATHS.protoCodec, ['decode', f.name, f.dir, body.toString('hex')], { encoding: 'utf8' });
      const c = JSON.parse(out) as CFrame;
      expect(c.seq, `${f.name} ${f.dir} seq`).toBe(f.seq);
      expect(c.type, `${f.name} ${f.dir} type`).toBe(f.type);
      expect(c.fields, `${f.name} ${f.dir} fields`).toEqual(f.fields);
    }
  });

  it('a reply with an error status carries no fields and decodes in C', async () => {
    const codec = await loadCodec();
    const body = stripPrefix(codec.encode('create_qp', 'rep', 77, P.FfrErr.FFR_EINVAL, {}));
    const c = JSON.parse(execFileSync(PATHS.protoCodec, ['decode', 'create_qp', 'rep', body.toString('hex')], { encoding: 'utf8' })) as CFrame;
    expect(c.status).toBe(P.FfrErr.FFR_EINVAL);
    expect(c.seq).toBe(77);
  });
});
