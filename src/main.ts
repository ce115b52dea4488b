/**
 * CLI: examday serve | worker | all | migrate | seed | openapi
 * (`npm start` runs `all`: API and job workers in one process.)
 */
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import { getPriority, setPriority } from 'node:os';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createContext, type AppContext } from './context.ts';
import { buildApp } from './http/app.ts';
import { watchClientSockets } from './http/client-sockets.ts';
import { openAcceptLanes, type AcceptLanes } from './http/accept-lanes.ts';
import { clientSocketLimit, clusterProblem, isClusterWorker, processCount, runCluster } from './cluster.ts';
import { dropLoad, isRunTag, seedDemo, seedLoad } from './modules/demo/seed.ts';

const USAGE = `usage: examday <command> [options]

commands:
  all        API server and job workers in one process (default for npm start);
             --processes K: K API processes + 1 job worker process
  serve      API server only; --processes K|auto: K processes sharing the port
  worker     job workers only
  migrate    apply database migrations and exit
  seed       create a load-test data set: --candidates N --districts D [--sessions S];
             --drop TAG removes the one whose runTag it printed
  openapi    print the OpenAPI document
  loadtest   exam-day load test against this machine: --target URL | --embedded (see loadtest --help)
  capacity   stepped load test until a service objective breaks (see capacity --help)
`;

async function main(argv: string[]): Promise<void> {
  const [command = 'all', ...rest] = argv;
  const wantsHelp = (a: string): boolean => a === '--help' || a === '-h';
  // loadtest and capacity have their own, longer help.
  if (command === 'help' || wantsHelp(command) || (command !== 'loadtest' && command !== 'capacity' && rest.some(wantsHelp))) {
    process.stdout.write(USAGE);
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  switch (command) {
    case 'all':
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { processes: { type: 'string' } } });
      const k = processCount(values.processes ?? config.processes);
      if (k === undefined) {
        process.stderr.write('--processes must be a whole number from 1 to 99, or "auto"\n');
        process.exit(2);
      }
      const problem = clusterProblem(config, k);
      if (problem) {
        process.stderr.write(`${problem}\n`);
        process.exit(2);
      }
      if (k > 1 && !isClusterWorker()) {
        return runCluster({ config, role: command, processes: k, prepare: () => prepareCluster(config) });
      }
      return run(config, command);
    }
    case 'worker':
      return run(config, command);
    case 'migrate': {
      const ctx = await createContext({ ...config, seedDemo: false });
      await ctx.close();
      process.stdout.write('migrations are up to date\n');
      return;
    }
    case 'seed': {
      const { values } = parseArgs({
        args: rest,
        options: {
          candidates: { type: 'string', default: '1000' },
          districts: { type: 'string', default: '3' },
          sessions: { type: 'string', default: '1' },
          out: { type: 'string' },
          drop: { type: 'string' },
        },
      });
      if (values.drop !== undefined) {
        if (!isRunTag(values.drop)) {
          process.stderr.write('--drop takes the runTag that `examday seed` printed (4–32 lower-case letters and digits)\n');
          process.exit(2);
        }
        const ctx = await createContext({ ...config, seedDemo: false });
        try {
          const removed = await dropLoad(ctx.db.kysely, values.drop);
          process.stdout.write(`${JSON.stringify({ runTag: values.drop, candidatesRemoved: removed })}\n`);
        } finally {
          await ctx.close();
        }
        return;
      }
      const options = {
        candidates: positive(values.candidates, 'candidates'),
        districts: positive(values.districts, 'districts'),
        sessionsPerDistrict: positive(values.sessions, 'sessions'),
        outFile: values.out,
      };
      const ctx = await createContext(config);
      try {
        const summary = await seedLoad(ctx, options);
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } finally {
        await ctx.close();
      }
      return;
    }
    case 'openapi': {
      const ctx = await createContext({ ...config, seedDemo: false, log: { ...config.log, level: 'silent' } });
      const app = await buildApp(ctx);
      await app.ready();
      process.stdout.write(`${JSON.stringify(app.swagger(), null, 2)}\n`);
      await app.close();
      await ctx.close();
      return;
    }
    case 'loadtest':
    case 'capacity': {
      const { loadtestCli } = await import('./loadtest/cli.ts');
      process.exit(await loadtestCli(command, rest, config));
      return;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      process.exit(2);
  }
}

/** Once, before forking: migrations and the demo seed, so K workers do not race them. */
async function prepareCluster(config: Config): Promise<void> {
  const ctx = await createContext({ ...config, log: { ...config.log, level: 'warn' } });
  try {
    if (config.seedDemo) await seedDemo(ctx);
  } finally {
    await ctx.close();
  }
}

function positive(v: string | undefined, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive whole number\n`);
    process.exit(2);
  }
  return n;
}

/** Connections the kernel queues for accept (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

async function run(config: Config, role: 'all' | 'serve' | 'worker'): Promise<void> {
  // A process that only runs jobs yields the CPU to the API processes on the
  // same machine: at the end of an exam thousands of submits and their
  // gradings arrive together, and the submits are the ones someone waits for.
  let niced = false;
  if (role === 'worker' && config.workerNice > 0) {
    try {
      setPriority(Math.max(getPriority(), config.workerNice));
      niced = getPriority() > 0;
    } catch {
      // not permitted here (some containers): run at the inherited priority
    }
  }
  const ctx: AppContext = await createContext(config);
  if (config.seedDemo && role !== 'worker') await seedDemo(ctx);
  const app = role === 'worker' ? undefined : await buildApp(ctx);
  let lanes: AcceptLanes | undefined;

  // SIGTERM/SIGINT: stop accepting, drain in-flight requests (Fastify close),
  // flush pending autosaves, stop workers, close pools.
  const graceLog = { error: (m: unknown) => ctx.log.error({ err: m }, 'shutdown problem') };
  // In a cluster the primary decides when to stop: Ctrl-C in a terminal reaches
  // every process of the group, and a second signal would cut the drain short,
  // so workers leave SIGINT to the primary and drain on the SIGTERM it sends.
  const inCluster = isClusterWorker();
  if (inCluster) process.on('SIGINT', () => {});
  closeWithGrace({ delay: 20_000, logger: graceLog, ...(inCluster ? { skip: ['SIGINT' as const] } : {}) }, async ({ signal, err }) => {
    if (err) ctx.log.error({ err }, 'fatal error, shutting down');
    else ctx.log.info({ signal }, 'shutting down');
    await lanes?.close();
    await app?.close();
    if (lanes && !(await lanes.drained(10_000))) ctx.log.warn('connections accepted through lanes still open after 10 s');
    ctx.log.info('http server closed; flushing writes and closing pools');
    await ctx.close();
    ctx.log.info('shutdown complete');
  });

  if (role !== 'serve') ctx.startWorkers({ besideHttp: role === 'all', niced });
  if (app) {
    const sockets = clientSocketLimit();
    if (sockets) app.server.maxConnections = sockets;
    const clients = watchClientSockets(app.server, { limit: sockets, registry: ctx.metrics.registry, log: ctx.log });
    // At 09:00 tens of thousands connect at once; Node's default accept queue
    // (511) overflows and the kernel silently drops connections that the client
    // then retries seconds later. The kernel caps this at net.core.somaxconn.
    await app.listen({ port: config.http.port, host: config.http.host, backlog: LISTEN_BACKLOG });
    // A busy process accepts one connection per event-loop turn per listener; the sign-in storm needs more.
    lanes = await openAcceptLanes(app.server, {
      lanes: config.http.acceptLanes,
      backlog: LISTEN_BACKLOG,
      onRefused: clients.refused,
      ...(sockets ? { maxConnections: sockets } : {}),
    }).catch(
      (err: unknown) => {
        ctx.log.warn({ err }, 'accept lanes not opened; accepting on the one listener');
        return undefined;
      },
    );
    const shown = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
    const base = config.http.publicUrl ?? `http://${shown}:${config.http.port}`;
    // In a cluster the primary announces once for all its workers.
    if (isClusterWorker()) return ctx.log.info({ port: config.http.port }, 'listening');
    const lines = [`examday (${role}) listening on ${base}  ·  API docs: ${base}/docs`];
    if (ctx.demoAccounts.length) {
      lines.push('demo accounts:');
      for (const a of ctx.demoAccounts) lines.push(`  ${a.role.padEnd(26)} ${a.login.padEnd(28)} ${a.secret}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } else {
    ctx.log.info('worker started');
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // An unknown option or a missing value: say which, and how to call, not a stack trace.
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
