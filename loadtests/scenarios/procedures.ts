// Types only: the API's procedure paths, inputs and outputs from the router, so the scenario
// modules (plain JavaScript) name procedures the type checker knows; a renamed procedure or a
// changed input fails `pnpm typecheck`.
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
