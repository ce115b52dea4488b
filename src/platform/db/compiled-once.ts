/**
 * A query whose shape never changes, built and compiled once. Kysely builds
 * the operation tree and compiles it to SQL afresh on every call: for a
 * select with three joins that is ~80 µs, more than the rest of the work of
 * the request that runs it (`npm run bench -- endpoints`: the start page's
 * bookings in each sign-in's answer). Here `build` runs once, with a marker
 * in place of each argument; each call then only puts its own values where
 * the markers were.
 *
 * Only for queries whose arguments each become one bound parameter — a
 * scalar, or an array sent whole (`= ANY(${ids}::uuid[])`). A value the
 * builder looks into (a list for `in`, an object of columns) would not be a
 * single parameter: `build` must keep every marker whole, and compiling
 * fails loudly if one is missing or split.
 */
import { createQueryId, type CompiledQuery, type Compilable, type Kysely } from 'kysely';

class Slot {
  constructor(readonly index: number) {}
}

export type Executor = Pick<Kysely<never>, 'executeQuery'>;

export interface CompiledOnce<A extends unknown[], O> {
  /** The compiled query with these arguments bound. */
  bind(...args: A): CompiledQuery<O>;
  /** Run it on `db` (the database or a transaction). */
  execute(db: Executor, ...args: A): Promise<O[]>;
}

/**
 * `build` receives `arity` arguments (markers, not values) and returns the
 * query; every argument must end up as exactly one parameter.
 */
export function compiledOnce<A extends unknown[], O>(arity: number, build: (...args: A) => Compilable<O>): CompiledOnce<A, O> {
  let compiled: CompiledQuery<O> | undefined;
  /** For each parameter of the compiled query: the argument it takes, or -1 for a constant of the query. */
  let from: number[] = [];
  const compile = (): CompiledQuery<O> => {
    const slots = Array.from({ length: arity }, (_v, i) => new Slot(i));
    const q = build(...(slots as unknown as A)).compile();
    from = q.parameters.map((p) => (p instanceof Slot ? p.index : -1));
    for (let i = 0; i < arity; i++) {
      const uses = from.filter((f) => f === i).length;
      if (uses !== 1) throw new Error(`compiledOnce: argument ${i} became ${uses} parameters of "${q.sql}"; it must become exactly one`);
    }
    return q;
  };
  const bind = (...args: A): CompiledQuery<O> => {
    const q = (compiled ??= compile());
    const parameters = from.map((f, i) => (f < 0 ? q.parameters[i] : args[f]));
    return { query: q.query, queryId: createQueryId(), sql: q.sql, parameters };
  };
  return {
    bind,
    async execute(db, ...args) {
      return (await db.executeQuery(bind(...args))).rows;
    },
  };
}
