import type { Container } from '../registry/registry.js';
import { HandleTable } from '../verbs/handles.js';
import type { AhObj, ChannelObj, CqObj, MrObj, ObjectCounts, PdObj, QpObj, SrqObj } from './objects.js';

/** Lifecycle of one control connection. */
export enum SessionState {
  /** Socket open, no successful hello yet: only hello is accepted. */
  Connecting = 'connecting',
  /** Identity proven, device attributes sent: verbs requests are served. */
  Established = 'established',
  /** Socket gone or closed by the router; every object has been reclaimed. */
  Closed = 'closed',
}

/** The peer as the kernel reports it (SO_PEERCRED), never as the shim claims. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * One process's control session: its identity and its object tables.
 * Handles are per session; QPNs and MR keys are router-wide.
 */
export class Session {
  state = SessionState.Connecting;
  /** Router-assigned session id (the data plane's `sid`), set at hello. */
  sid = 0;
  container: Container | undefined;
  readonly openedAt = new Date();
  requests = 0;
  registeredBytes = 0n;
  /** Shared memory of the rings the router created for this session's CQs, QPs and SRQs. */
  ringBytes = 0;
  /** Closes the connection if no hello arrives in time (see SessionManager). */
  helloTimer: NodeJS.Timeout | undefined;

  readonly pds = new HandleTable<PdObj>('pd');
  readonly mrs = new HandleTable<MrObj>('mr');
  readonly channels = new HandleTable<ChannelObj>('channel');
  readonly cqs = new HandleTable<CqObj>('cq');
  readonly srqs = new HandleTable<SrqObj>('srq');
  readonly qps = new HandleTable<QpObj>('qp');
  readonly ahs = new HandleTable<AhObj>('ah');

  constructor(
    readonly conn: number,
    readonly peer: PeerCred,
  ) {}

  counts(): ObjectCounts {
    return {
      pd: this.pds.size,
      mr: this.mrs.size,
      cq: this.cqs.size,
      qp: this.qps.size,
      srq: this.srqs.size,
      ah: this.ahs.size,
      channel: this.channels.size,
    };
  }

  /** CQ entries over all CQs (each CQ's cqe as the device rounded it): the maxCqe quota counts these. */
  cqEntries(): number {
    let n = 0;
    for (const cq of this.cqs.values()) n += cq.cqe;
    return n;
  }

  /** For log lines: who this is. */
  describe(): string {
    const who = `pid ${this.peer.pid} uid ${this.peer.uid}`;
    return this.container ? `session ${this.sid} (${who}, container ${this.container.name})` : `conn ${this.conn} (${who})`;
  }

  /** The container; only valid once Established. */
  get owner(): Container {
    if (this.container === undefined) throw new Error(`${this.describe()} has no container yet`);
    return this.container;
  }

  clearTables(): void {
    for (const t of [this.pds, this.mrs, this.channels, this.cqs, this.srqs, this.qps, this.ahs]) t.clear();
    this.registeredBytes = 0n;
    this.ringBytes = 0;
  }
}
