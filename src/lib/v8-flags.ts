/**
 * V8 flags for a process that serves the API.
 *
 * Every request allocates short-lived objects (the parsed body, headers,
 * rows, the reply), so an API process under load spends its garbage-collection
 * time in scavenges of the young generation. With V8's default 16 MB
 * semi-spaces the young generation fills every few milliseconds at exam-day
 * rates; with 32 MB it fills half as often and more of each request's garbage
 * is dead by then. Measured on a 12,000-candidate run (one API process):
 * garbage collection fell from 6.1 % to 3.4 % of the process's busy time, at
 * the cost of up to 48 MB more memory per process (BENCHMARKS.md). The flag
 * must be given at start (V8 sizes the heap once), so it is passed to the
 * processes examday starts itself: the API workers of `--processes K`, the
 * load harness's embedded server, and `npm start`.
 */
export const API_V8_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/** The flag's name, up to any `=`. */
const flagName = (f: string): string => f.split('=')[0]!.replace(/_/g, '-');

/**
 * `execArgv` with the API flags added, except those the operator already set
 * (on the command line or in NODE_OPTIONS), which win.
 */
export function withApiV8Flags(execArgv: readonly string[], nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)].map(flagName));
  return [...execArgv, ...API_V8_FLAGS.filter((f) => !given.has(flagName(f)))];
}
