// Types only (nothing here runs): the API's procedure paths, inputs and outputs, derived from
// the router through tRPC's public client types, so the scenario modules (plain JavaScript that
// k6 also loads) name procedures the type checker knows. A renamed procedure or a changed input
// fails `pnpm typecheck`.
import type { AppRouter, RouterInputs, RouterOutputs } from '@flash/api';
import type { TRPCClient } from '@trpc/client';

type Client = TRPCClient<AppRouter>;

/** Dotted paths of the leaves of `T` that extend `Leaf` ({ query } or { mutate } in a tRPC client). */
type PathsTo<T, Leaf, Prefix extends string = ''> = {
  [K in keyof T & string]: T[K] extends Leaf
    ? `${Prefix}${K}`
    : T[K] extends Record<string, unknown>
      ? PathsTo<T[K], Leaf, `${Prefix}${K}.`>
      : never;
}[keyof T & string];

/** `T` at a dotted path. */
type At<T, Path extends string> = Path extends `${infer Head}.${infer Rest}`
  ? Head extends keyof T
    ? At<T[Head], Rest>
    : never
  : Path extends keyof T
    ? T[Path]
    : never;

export type QueryPath = PathsTo<Client, { query: unknown }>;
export type MutationPath = PathsTo<Client, { mutate: unknown }>;
export type ProcedurePath = QueryPath | MutationPath;
export type InputOf<P extends ProcedurePath> = At<RouterInputs, P>;
export type OutputOf<P extends ProcedurePath> = At<RouterOutputs, P>;
