// The router type clients import (`@flash/api` under the `types` condition): tRPC's procedure
// types over plain data, with no server context, core, Kysely, ioredis, BullMQ, Fastify or Node
// types behind it, so a browser project reads a few dozen declaration files, not hundreds, and
// Node's globals stay unknown there (ADR 0500, test/portable-types.test.ts).
//
// Declaration emit prints a type alias as written, but prints an inferred type in full when the
// aliases it was built from are out of scope. So the mapping lives in function scope and the
// exported types are the functions' return types: apps/api/dist/types/client.d.ts then holds the
// router as literal object types, importing only '@trpc/server'. The functions never run.
import type {
  AnyProcedure,
  inferRouterInputs,
  inferRouterOutputs,
  TRPCBuiltRouter,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
} from '@trpc/server';

function errorShapeOf() {
  type ServerRouter = import('./trpc/root.ts').AppRouter;
  return null as unknown as Plain<ServerRouter['_def']['_config']['$types']['errorShape']>;

  // A string union is rebuilt (`& string`): a plain copy would keep its name from @flash/core.
  type Plain<T> = [NonNullable<T>] extends [string]
    ? (NonNullable<T> & string) | Extract<T, null | undefined>
    : T extends readonly (infer U)[]
      ? Plain<U>[]
      : T extends object
        ? { [K in keyof T]: Plain<T[K]> }
        : T;
}

/** tRPC's error shape with the typed `data` of every appCode (trpc/app-code.ts). */
export type ErrorShape = ReturnType<typeof errorShapeOf>;
/** `error.data` of an error answer: narrow on `appCode` to read its details. */
export type AppErrorData = ErrorShape['data'];

function clientRouterOf() {
  type ServerRouter = import('./trpc/root.ts').AppRouter;
  return null as unknown as TRPCBuiltRouter<
    { ctx: object; meta: object; errorShape: ErrorShape; transformer: false },
    RecordOf<ServerRouter['_def']['record']>
  >;

  type Plain<T> = [NonNullable<T>] extends [string]
    ? (NonNullable<T> & string) | Extract<T, null | undefined>
    : T extends readonly (infer U)[]
      ? Plain<U>[]
      : T extends object
        ? { [K in keyof T]: Plain<T[K]> }
        : T;
  type Types<D extends { input: unknown; output: unknown }> = {
    input: Plain<D['input']>;
    output: Plain<D['output']>;
    meta: object;
    errorShape: ErrorShape;
  };
  type ProcedureOf<P> =
    P extends TRPCQueryProcedure<infer D>
      ? TRPCQueryProcedure<Types<D>>
      : P extends TRPCMutationProcedure<infer D>
        ? TRPCMutationProcedure<Types<D>>
        : never;
  type RecordOf<R> = R extends object
    ? { [K in keyof R]: R[K] extends AnyProcedure ? ProcedureOf<R[K]> : RecordOf<R[K]> }
    : never;
}

/** The API's router as a client sees it: pass it to `createTRPCClient<AppRouter>`. */
export type AppRouter = ReturnType<typeof clientRouterOf>;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
