/** Request and response schemas of the admin operations routes. */
import { z } from 'zod';
import { DEADLINE_QUEUE, GRADING_QUEUE } from '../attempts/service.ts';
import { PIPELINE_QUEUE } from '../materials/pipeline.ts';

/** Every queue a worker runs (see modules/jobs.ts); the only names the retry route accepts. */
export const QUEUES = [GRADING_QUEUE, DEADLINE_QUEUE, PIPELINE_QUEUE] as const;

export const retryParams = z.object({
  queue: z.enum(QUEUES),
  id: z.string().min(1).max(300),
});

export const retried = z.object({ retried: z.literal(true) });

const queueStats = z.object({
  queue: z.string(),
  waiting: z.number().int(),
  active: z.number().int(),
  delayed: z.number().int(),
  dead: z.number().int(),
  completed: z.number().int().describe('BullMQ keeps only the newest 1000 completed jobs'),
});

const deadLetter = z.object({
  queue: z.string(),
  id: z.string(),
  name: z.string(),
  attempts: z.number().int(),
  error: z.string().nullable(),
  failedAt: z.string().nullable().describe('when the job was dead-lettered'),
  createdAt: z.string(),
});

export const breakerStates = ['closed', 'open', 'half-open'] as const;

export const operationsView = z.object({
  queues: z.array(queueStats),
  deadLetters: z.array(deadLetter).describe('newest first, at most 50 across queues'),
  ai: z.object({
    requestsLastMinute: z.number().int(),
    tokensLastMinute: z.number().int(),
    tokensToday: z.number().int(),
    limits: z.object({ requestsPerMinute: z.number().int(), tokensPerMinute: z.number().int(), tokensPerDay: z.number().int() }),
    breaker: z.enum(breakerStates).describe("this process's circuit breaker on the AI provider (each worker keeps its own)"),
  }),
  attempts: z.object({ active: z.number().int(), submittedLastHour: z.number().int() }),
  http: z.object({
    p99Ms: z.number().describe("estimated from this process's latency histogram buckets, all routes; 0 before any request"),
    requests: z.number().int().describe('requests this process has answered since it started'),
  }),
});

export type OperationsView = z.infer<typeof operationsView>;
export type BreakerStateName = (typeof breakerStates)[number];
