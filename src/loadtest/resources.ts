/**
 * Where the machine's time went during a run: CPU per second for the whole
 * machine and for each group of processes — examday (the server processes
 * and their cluster workers), PostgreSQL, Redis, the load generator, and
 * everything else (other work on a shared machine). Read from /proc (Linux);
 * elsewhere the monitor reports nothing. Also samples the server's own
 * /metrics for event-loop delay and database-pool waiters.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export const GROUPS = ['examday', 'postgres', 'redis', 'generator', 'other'] as const;
export type Group = (typeof GROUPS)[number];

export interface CpuPoint {
  sec: number;
  /** Cores busy machine-wide. */
  busy: number;
  byGroup: Record<Group, number>;
}

export interface ServerMetricsPoint {
  sec: number;
  eventLoopP99Ms: number | undefined;
  dbPoolWaiting: number | undefined;
  /** The scraped process's client sockets, its limit, and connections it refused at that limit (cumulative). */
  clientSockets: number | undefined;
  clientSocketLimit: number | undefined;
  connectionsRefused: number | undefined;
}

export interface ResourceSummary {
  cores: number;
  /**
   * Share of wall time in which some runnable task waited for a CPU (Linux
   * pressure stall information), in %. Well above 0 means the machine was
   * oversubscribed: other work competed with the run.
   */
  cpuPressurePct: number | undefined;
  /** TCP connections dropped machine-wide because an accept queue was full (TcpExt ListenOverflows). */
  listenOverflows: number | undefined;
  /** Mean cores used per group over the sampled seconds (or the window given). */
  meanCores: MeanCores;
  cpu: CpuPoint[];
  server: ServerMetricsPoint[];
  eventLoopP99MaxMs: number | undefined;
  dbPoolWaitingMax: number | undefined;
  /** The most client sockets a scraped server process held, and its limit. */
  clientSocketsMax: number | undefined;
  clientSocketLimit: number | undefined;
  /** The most connections a scraped server process had refused at its limit (with several processes, at least this many). */
  connectionsRefusedMax: number | undefined;
}

/** Mean cores busy machine-wide and by group, to two decimals. */
export type MeanCores = Record<Group, number> & { busy: number };

/** The mean of some seconds' CPU figures (zeros when there are none). */
export function meanCoresOf(points: readonly CpuPoint[]): MeanCores {
  const mean = (f: (p: CpuPoint) => number): number =>
    points.length ? Math.round((points.reduce((a, p) => a + f(p), 0) / points.length) * 100) / 100 : 0;
  return {
    busy: mean((p) => p.busy),
    examday: mean((p) => p.byGroup.examday),
    postgres: mean((p) => p.byGroup.postgres),
    redis: mean((p) => p.byGroup.redis),
    generator: mean((p) => p.byGroup.generator),
    other: mean((p) => p.byGroup.other),
  };
}

const TICKS_PER_S = 100; // USER_HZ on Linux

interface ProcStat {
  ppid: number;
  comm: string;
  ticks: number;
}

function readProcStat(pid: string): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    // After the comm: state(0) ppid(1) ... utime(11) stime(12)
    return { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Total µs some task stalled waiting for a CPU since boot (PSI). */
function cpuStallUs(): number | undefined {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'latin1').split('\n');
    const at = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[at]!.split(/\s+/);
    const values = lines[at + 1]!.split(/\s+/);
    const i = names.indexOf('ListenOverflows');
    return i > 0 ? Number(values[i]) : undefined;
  } catch {
    return undefined;
  }
}

function cmdlineOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export interface MonitorOptions {
  /** Processes of the server under test (their descendants count too). */
  serverPids: number[];
  /** The coordinator (its descendants other than server processes are the generator). */
  generatorPid: number;
  /** Where to scrape /metrics; absent: no scraping. */
  metricsUrl?: URL | undefined;
  /** Epoch ms of second 0, once known (nothing is recorded before). */
  startAt: () => number | undefined;
  cores: number;
}

export class ResourceMonitor {
  #prev = new Map<string, number>();
  #prevMachine: { busy: number; total: number } | undefined;
  #groupOf = new Map<string, Group>();
  #cpu: CpuPoint[] = [];
  #server: ServerMetricsPoint[] = [];
  #timer: NodeJS.Timeout | undefined;
  #scrapes = 0;
  readonly available: boolean;

  constructor(private readonly o: MonitorOptions) {
    this.available = machineTicks() !== undefined;
  }

  #stallAt: { us: number; at: number } | undefined;
  #overflowsAt: number | undefined;

  start(): void {
    if (!this.available) return;
    const us = cpuStallUs();
    if (us !== undefined) this.#stallAt = { us, at: performance.now() };
    this.#overflowsAt = listenOverflows();
    this.#sample(false);
    this.#timer = setInterval(() => this.#sample(true), 1000);
    this.#timer.unref();
  }

  #classify(pid: string, st: ProcStat, stats: Map<string, ProcStat>): Group {
    const known = this.#groupOf.get(pid);
    if (known) return known;
    let g: Group = 'other';
    if (st.comm === 'postgres' || st.comm.startsWith('postgres')) g = 'postgres';
    else if (st.comm.startsWith('redis-server')) g = 'redis';
    else {
      // Walk up the parent chain: a server process or the coordinator.
      let p = Number(pid);
      for (let hops = 0; hops < 20 && p > 1; hops++) {
        if (this.o.serverPids.includes(p)) {
          g = 'examday';
          break;
        }
        if (p === this.o.generatorPid) {
          g = 'generator';
          break;
        }
        p = stats.get(String(p))?.ppid ?? 0;
      }
      if (g === 'other' && this.o.serverPids.length === 0 && st.comm.startsWith('node')) {
        // A target started by the operator: recognise examday's server roles.
        const cmd = cmdlineOf(pid);
        if (/examday\.mjs\s+(serve|all|worker)\b/.test(cmd)) g = 'examday';
      }
    }
    this.#groupOf.set(pid, g);
    return g;
  }

  #sample(record: boolean): void {
    const stats = new Map<string, ProcStat>();
    let pids: string[] = [];
    try {
      pids = readdirSync('/proc').filter((d) => d.charCodeAt(0) >= 48 && d.charCodeAt(0) <= 57);
    } catch {
      return;
    }
    for (const pid of pids) {
      const st = readProcStat(pid);
      if (st) stats.set(pid, st);
    }
    const byGroup: Record<Group, number> = { examday: 0, postgres: 0, redis: 0, generator: 0, other: 0 };
    const next = new Map<string, number>();
    for (const [pid, st] of stats) {
      next.set(pid, st.ticks);
      const before = this.#prev.get(pid);
      if (before === undefined) continue;
      byGroup[this.#classify(pid, st, stats)] += (st.ticks - before) / TICKS_PER_S;
    }
    this.#prev = next;
    for (const pid of this.#groupOf.keys()) if (!stats.has(pid)) this.#groupOf.delete(pid);
    const m = machineTicks();
    const pm = this.#prevMachine;
    this.#prevMachine = m;
    if (!record || !m || !pm) return;
    const busy = m.total > pm.total ? ((m.busy - pm.busy) / (m.total - pm.total)) * this.o.cores : 0;
    const start = this.o.startAt();
    if (start === undefined) return;
    const sec = Math.round((Date.now() - start) / 1000);
    if (sec < 1) return;
    this.#cpu.push({ sec, busy, byGroup });
    if (this.o.metricsUrl && this.#scrapes++ % 5 === 0) void this.#scrape(sec);
  }

  /**
   * One more scrape, awaited: after the run, when the candidates' connections
   * are closed. A process that held its limit of client sockets refused the
   * scrapes' connections too; its counters are cumulative.
   */
  async scrapeNow(): Promise<void> {
    if (this.o.metricsUrl) await this.#scrape(this.#cpu.at(-1)?.sec ?? 0);
  }

  async #scrape(sec: number): Promise<void> {
    try {
      const res = await fetch(new URL('/metrics', this.o.metricsUrl), { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      const num = (re: RegExp): number | undefined => {
        const m = re.exec(text);
        return m ? Number(m[1]) : undefined;
      };
      const lag = num(/^examday_event_loop_lag_p99_seconds(?:\{[^}]*\})?\s+([0-9.eE+-]+)/m);
      this.#server.push({
        sec,
        eventLoopP99Ms: lag === undefined ? undefined : Math.round(lag * 10_000) / 10,
        dbPoolWaiting: num(/^examday_db_pool_connections\{[^}]*state="waiting"[^}]*\}\s+([0-9.eE+-]+)/m),
        clientSockets: num(/^examday_http_client_sockets\s+([0-9.eE+-]+)/m),
        clientSocketLimit: num(/^examday_http_client_socket_limit\s+([0-9.eE+-]+)/m),
        connectionsRefused: num(/^examday_http_connections_refused_total\s+([0-9.eE+-]+)/m),
      });
    } catch {
      // The server being too busy to answer is itself visible in the latencies.
    }
  }

  stop(window?: { from: number; to: number }): ResourceSummary {
    clearInterval(this.#timer);
    const meanCores = meanCoresOf(this.#cpu.filter((p) => !window || (p.sec >= window.from && p.sec <= window.to)));
    const stall = cpuStallUs();
    const cpuPressurePct =
      stall !== undefined && this.#stallAt
        ? Math.round(((stall - this.#stallAt.us) / 1000 / Math.max(1, performance.now() - this.#stallAt.at)) * 1000) / 10
        : undefined;
    const overflows = listenOverflows();
    const lags = this.#server.map((s) => s.eventLoopP99Ms).filter((x): x is number => x !== undefined);
    const waits = this.#server.map((s) => s.dbPoolWaiting).filter((x): x is number => x !== undefined);
    const highest = (f: (p: ServerMetricsPoint) => number | undefined): number | undefined => {
      const xs = this.#server.map(f).filter((x): x is number => x !== undefined);
      return xs.length ? Math.max(...xs) : undefined;
    };
    return {
      cores: this.o.cores,
      cpuPressurePct,
      listenOverflows: overflows !== undefined && this.#overflowsAt !== undefined ? overflows - this.#overflowsAt : undefined,
      meanCores,
      cpu: this.#cpu,
      server: this.#server,
      eventLoopP99MaxMs: lags.length ? Math.max(...lags) : undefined,
      dbPoolWaitingMax: waits.length ? Math.max(...waits) : undefined,
      clientSocketsMax: highest((p) => p.clientSockets),
      clientSocketLimit: highest((p) => p.clientSocketLimit),
      connectionsRefusedMax: highest((p) => p.connectionsRefused),
    };
  }
}
