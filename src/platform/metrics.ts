/**
 * Prometheus metrics, one registry per process (never the global default, so
 * tests can build many apps in one process).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  slowQueries: Counter;
  dbErrors: Counter;
  autosaveBatch: Histogram;
  /** Register a gauge whose value is read at scrape time. */
  gauge(name: string, help: string, labelNames: string[], collect: (g: Gauge) => void | Promise<void>): void;
  close(): void;
}

/**
 * Default metrics whose every scrape walks each open handle or descriptor,
 * with the event loop blocked meanwhile: an API process holding 12,000
 * sockets stalled ~35 ms per scrape on them (~1 ms without). The rest of the
 * default set stays (CPU, memory, heap, GC, event-loop lag, max descriptors).
 */
const PER_HANDLE_METRICS = [
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'process_open_fds',
];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  for (const name of PER_HANDLE_METRICS) registry.removeSingleMetric(name);
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  new Gauge({
    name: 'examday_event_loop_lag_p99_seconds',
    help: 'p99 event-loop delay since the previous scrape',
    registers: [registry],
    collect() {
      this.set(loop.percentile(99) / 1e9);
      loop.reset();
    },
  });
  return {
    registry,
    httpRequests: new Counter({
      name: 'examday_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'examday_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    slowQueries: new Counter({
      name: 'examday_db_slow_queries_total',
      help: 'Queries slower than DATABASE_SLOW_QUERY_MS',
      registers: [registry],
    }),
    dbErrors: new Counter({ name: 'examday_db_errors_total', help: 'Failed queries', registers: [registry] }),
    autosaveBatch: new Histogram({
      name: 'examday_autosave_batch_rows',
      help: 'Answers per group-commit flush',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    gauge(name, help, labelNames, collect) {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        async collect() {
          await collect(this);
        },
      });
    },
    close() {
      loop.disable();
    },
  };
}
