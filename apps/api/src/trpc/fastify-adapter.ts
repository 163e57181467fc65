/**
 * A lean Fastify binding for tRPC's plain-JSON HTTP protocol.
 *
 * tRPC's own Fastify adapter turns every request into a Fetch `Request` (URL, Headers, body
 * stream, AbortSignal) and every answer into a `Response` that Fastify then streams out. On
 * the hot paths that work costs more than the procedure itself. This plugin reads the
 * request Fastify already parsed, runs the procedures with tRPC's own primitives (procedure
 * callers, `getTRPCErrorShape`, `getHTTPStatusCode`, `transformTRPCResponse`), and writes the
 * body as one string.
 *
 * The wire format is the official adapter's, request for request: `{"result":{"data":...}}`,
 * error shapes from the router's errorFormatter, `?batch=1` with comma-separated paths and
 * `{"0":...}` inputs, 207 for mixed batches, 405 with `allow` for a wrong method, and the same
 * lazy input parsing (a procedure without an input never sees a malformed `input`). Whatever
 * this plugin does not handle itself (streaming `jsonl` batches, subscriptions, form data and
 * octet streams, methods other than GET/POST, `responseMeta`, method override) goes to the
 * official handler, so nothing a tRPC client can send is refused here that tRPC would serve.
 * `apps/api/test/adapter*.test.ts` compares both adapters' answers byte for byte.
 *
 * It imports only what tRPC's own adapters import (`unstable-core-do-not-import` included, which
 * may change in any minor release): `@trpc/server` is pinned to the minor it was checked against
 * (`~` in package.json). Raise it on purpose and run the adapter tests (docs/adr/0002).
 */
import {
  type AnyTRPCProcedure,
  type AnyTRPCRouter,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  type inferRouterContext,
  TRPCError,
  type TRPCProcedureType,
  transformTRPCResponse,
} from '@trpc/server';
import { type FastifyHandlerOptions, fastifyRequestHandler } from '@trpc/server/adapters/fastify';
import { getHTTPStatusCode, type TRPCRequestInfo } from '@trpc/server/http';
import type { TRPCResponse } from '@trpc/server/rpc';
import { defaultTransformer, getProcedureAtPath } from '@trpc/server/unstable-core-do-not-import';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export type LeanTRPCPluginOptions<TRouter extends AnyTRPCRouter> = {
  /** The same options `fastifyTRPCPlugin` takes as `trpcOptions`. */
  trpcOptions: FastifyHandlerOptions<TRouter, FastifyRequest, FastifyReply>;
  /**
   * Mutations to run without tRPC's middleware chain when called alone (`POST /<path>`, no
   * batch), by procedure path. Each must answer as its procedure does (see trpc/fast-path.ts);
   * this plugin supplies the context, the lazily parsed input, error shapes, onError and the
   * wire format, as for any call.
   */
  directMutations?: Record<string, DirectCall<inferRouterContext<TRouter>>>;
};

/** Runs one mutation the way its procedure would, returning the procedure's result or error. */
export type DirectCall<TContext> = (opts: {
  ctx: TContext;
  path: string;
  /** The call's input, parsed on first use; throws BAD_REQUEST for malformed JSON, as tRPC does. */
  getRawInput: () => unknown;
}) => Promise<{ ok: true; data: unknown } | { ok: false; error: TRPCError }>;

type Call = TRPCRequestInfo['calls'][number];
type CallResult = [TRPCError, undefined] | [undefined, unknown];

const ACCEPTED_METHOD: Record<TRPCProcedureType, 'GET' | 'POST'> = {
  query: 'GET',
  mutation: 'POST',
  subscription: 'GET',
};

const VARY = 'trpc-accept, accept';
const JSON_TYPE = 'application/json';
// What a Fetch `Response` built from a string says when nobody set a content type; the official
// adapter answers its request-level errors (bad batch, mixed types) with it.
const TEXT_TYPE = 'text/plain;charset=UTF-8';

const asIs = (body: unknown) => body as string;

const ABORT = Symbol('trpc abort');
type ResponseWithAbort = FastifyReply['raw'] & { [ABORT]?: AbortController };

function sendString(reply: FastifyReply, status: number, contentType: string, body: string) {
  // With a serializer of its own Fastify sends the string as is (otherwise it appends
  // `; charset=utf-8` to a JSON type), and Node writes headers and body in one write.
  return reply
    .code(status)
    .header('vary', VARY)
    .header('content-type', contentType)
    .serializer(asIs)
    .send(body);
}

/** `close` also follows a complete response: only a connection closed before the end aborts. */
function abortIfUnfinished(this: ResponseWithAbort): void {
  if (!this.writableEnded) this[ABORT]?.abort();
}

/** A signal that aborts when the client leaves before the answer is complete. */
function abortSignalFor(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  const res = reply.raw as ResponseWithAbort;
  res[ABORT] = abort;
  if (res.closed && !res.writableEnded) abort.abort();
  else res.on('close', abortIfUnfinished);
  return abort.signal;
}

/** What `createContext` gets as `info`; the URL is built only if something reads it. */
class RequestInfo implements TRPCRequestInfo {
  readonly accept = null;
  readonly connectionParams = null;
  readonly isBatchCall: boolean;
  readonly calls: Call[];
  readonly type: TRPCProcedureType | 'unknown';
  readonly #req: FastifyRequest;
  #signal: AbortSignal | (() => AbortSignal);
  constructor(
    req: FastifyRequest,
    isBatchCall: boolean,
    calls: Call[],
    type: TRPCProcedureType | 'unknown',
    /** The signal, or how to make it when something first reads it. */
    signal: AbortSignal | (() => AbortSignal),
  ) {
    this.#req = req;
    this.isBatchCall = isBatchCall;
    this.calls = calls;
    this.type = type;
    this.#signal = signal;
  }
  get signal(): AbortSignal {
    if (typeof this.#signal === 'function') this.#signal = this.#signal();
    return this.#signal;
  }
  get url(): URL {
    return new URL(this.#req.url, `${this.#req.protocol}://${this.#req.host}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

function isPromiseLike(value: unknown): boolean {
  return (
    (isObject(value) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function' &&
    typeof (value as { catch?: unknown }).catch === 'function'
  );
}

function isAsyncIterable(value: unknown): boolean {
  return isObject(value) && Symbol.asyncIterator in value;
}

/** Outputs only `httpBatchStreamLink` can carry; tRPC refuses them on the JSON paths too. */
function isDataStream(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (isAsyncIterable(value)) return true;
  const values = Object.values(value);
  return values.some(isPromiseLike) || values.some(isAsyncIterable);
}

/** The media type without parameters, lower-cased (media types are case-insensitive). */
function mediaType(header: string | undefined): string | undefined {
  return header?.split(';', 1)[0]?.trim().toLowerCase();
}

function firstValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/**
 * The inputs of a request by call index, as tRPC's getRequestInfo reads them: one JSON text,
 * each call's input deserialized on its own; malformed JSON (or a batch input that is not an
 * object) is a BAD_REQUEST of the whole request.
 */
function parseInputs(
  text: string | undefined,
  isBatchCall: boolean,
  callCount: number,
  deserialize: (input: unknown) => unknown,
): Record<number, unknown> {
  try {
    const acc: Record<number, unknown> = Object.create(null);
    const raw: unknown = text ? JSON.parse(text) : undefined;
    if (raw === undefined) return acc;
    if (!isBatchCall) {
      acc[0] = deserialize(raw);
      return acc;
    }
    if (!isObject(raw)) {
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: '"input" needs to be an object when doing a batch call',
      });
    }
    for (let index = 0; index < callCount; index++) {
      const input = raw[index];
      if (input !== undefined) acc[index] = deserialize(input);
    }
    return acc;
  } catch (cause) {
    if (cause instanceof TRPCError) throw cause;
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: cause instanceof Error ? cause.message : 'Invalid input',
      cause,
    });
  }
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch (cause) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid URL-encoding in path "${path}"`, cause });
  }
}

/**
 * Requests the lean path leaves to tRPC's own handler: anything but plain JSON over GET/POST.
 * The official handler answers them exactly as before, just without the speed-up.
 */
function needsOfficialHandler(req: FastifyRequest): boolean {
  const method = req.method;
  if (method !== 'GET' && method !== 'POST') return true;
  const headers = req.headers;
  if (headers['trpc-accept'] !== undefined) return true;
  const accept = headers.accept;
  if (accept?.includes('application/jsonl')) return true;
  const type = mediaType(headers['content-type']);
  if (
    method === 'POST'
      ? type !== JSON_TYPE
      : type === 'multipart/form-data' || type === 'application/octet-stream'
  )
    return true;
  const query = req.query as Record<string, unknown> | undefined;
  return query?.connectionParams !== undefined;
}

/**
 * Serves a tRPC router at the prefix it is registered with, as `fastifyTRPCPlugin` does.
 * Register it without `fastify-plugin` so its JSON body parser stays in its own scope.
 */
export function leanTRPCPlugin<TRouter extends AnyTRPCRouter>(
  fastify: FastifyInstance,
  opts: LeanTRPCPluginOptions<TRouter>,
  done: (err?: Error) => void,
): void {
  const trpcOptions = opts.trpcOptions;
  const { router, onError } = trpcOptions;
  const config = router._def._config;
  const procedures = router._def.procedures as Record<string, AnyTRPCProcedure | undefined>;
  const hasLazyRouters = Object.keys(router._def.lazy ?? {}).length > 0;
  const separator: string = config.pathSeparator ?? '.';
  const allowBatching = trpcOptions.allowBatching ?? trpcOptions.batching?.enabled ?? true;
  const maxBatchSize = trpcOptions.maxBatchSize;
  // Options that shape every answer are implemented only by the official handler.
  const officialOnly = Boolean(trpcOptions.responseMeta || trpcOptions.allowMethodOverride);

  // As the official plugin does: tRPC parses JSON itself, lazily and with its own error, so
  // the body stays a string here; form data passes through for the official handler.
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, parsed) => {
    parsed(null, body);
  });
  fastify.removeContentTypeParser('multipart/form-data');
  fastify.addContentTypeParser('multipart/form-data', {}, (_req, body, parsed) => {
    parsed(null, body);
  });

  const official = (req: FastifyRequest, reply: FastifyReply, path: string) =>
    fastifyRequestHandler({ ...trpcOptions, req, res: reply, path });
  const directMutations = opts.directMutations ?? {};
  const deserialize = config.transformer.input.deserialize;

  /** A single call of a direct mutation: what the general path below does for it, minus the chain. */
  const runDirect = async (
    direct: DirectCall<inferRouterContext<TRouter>>,
    req: FastifyRequest,
    reply: FastifyReply,
    path: string,
  ) => {
    let input: unknown;
    let ctx: inferRouterContext<TRouter> | undefined;
    let error: TRPCError;
    // Errors of the request rather than of the call (as tRPC reports them) name no path or input.
    let requestLevel = false;
    let inputRead = false;
    const getRawInput = () => {
      if (!inputRead) {
        input = parseInputs(req.body as string | undefined, false, 1, deserialize)[0];
        inputRead = true;
      }
      return input;
    };
    try {
      const call: Call = {
        batchIndex: 0,
        path,
        procedure: procedures[path] ?? null,
        getRawInput: async () => getRawInput(),
        result: () => input,
      };
      // Direct calls get no signal (they decide in one step); the context's `info` makes one if read.
      const info = new RequestInfo(req, false, [call], 'mutation', () => abortSignalFor(reply));
      ctx = (await trpcOptions.createContext?.({ req, res: reply, info })) as inferRouterContext<TRouter>;
      const result = await direct({ ctx, path, getRawInput });
      if (result.ok) {
        if (isDataStream(result.data)) {
          requestLevel = true;
          throw new TRPCError({
            code: 'UNSUPPORTED_MEDIA_TYPE',
            message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
          });
        }
        return sendString(
          reply,
          200,
          JSON_TYPE,
          JSON.stringify(serialize({ result: { data: result.data } })),
        );
      }
      error = result.error;
    } catch (cause) {
      error = getTRPCErrorFromUnknown(cause);
    }
    const reported = requestLevel ? { path: undefined, input: undefined } : { path, input };
    onError?.({ error, ...reported, ctx, type: 'mutation', req });
    const response: TRPCResponse = {
      error: getTRPCErrorShape({ config, ctx, error, ...reported, type: 'mutation' }),
    };
    return sendString(
      reply,
      getHTTPStatusCode([response], [error]),
      JSON_TYPE,
      JSON.stringify(serialize(response)),
    );
  };

  // Lazy routers need an await to load; plain ones are looked up without a microtask hop.
  const lookUp = (path: string): AnyTRPCProcedure | null | Promise<AnyTRPCProcedure | null> =>
    procedures[path] ?? (hasLazyRouters ? getProcedureAtPath(router, path) : null);
  // No transformer configured: serializing is the identity, so the response objects go out as built.
  const serialize: (response: TRPCResponse | TRPCResponse[]) => unknown =
    config.transformer === defaultTransformer
      ? (response) => response
      : (response) => transformTRPCResponse(config, response);

  fastify.all('/:path', async (req, reply) => {
    const rawPath = (req.params as { path: string }).path;
    if (officialOnly || needsOfficialHandler(req)) return official(req, reply, rawPath);

    const method = req.method as 'GET' | 'POST';
    const query = req.query as Record<string, unknown>;
    const isBatchCall = firstValue(query.batch) === '1';
    const direct = directMutations[rawPath];
    if (direct !== undefined && method === 'POST' && !isBatchCall)
      return runDirect(direct, req, reply, rawPath);
    let contentType: string | undefined;
    let allow: string | undefined;
    let info: TRPCRequestInfo | undefined;
    let ctx: inferRouterContext<TRouter> | undefined;

    const send = (status: number, body: string) => {
      if (allow !== undefined) reply.header('allow', allow);
      return sendString(reply, status, contentType ?? TEXT_TYPE, body);
    };

    // The client leaving aborts the procedures' signal, as with the Fetch `Request` of tRPC.
    const signal = abortSignalFor(reply);

    try {
      // ---- request info, as tRPC's getRequestInfo builds it (errors here answer the whole request)
      let procedurePath = decodePath(rawPath);
      if (separator !== '.') procedurePath = procedurePath.split(separator).join('.');
      const paths = isBatchCall ? procedurePath.split(',') : [procedurePath];
      if (isBatchCall && typeof maxBatchSize === 'number' && paths.length > maxBatchSize) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'Batch call exceeds maximum size' });
      }

      // Inputs are parsed once, on the first procedure that asks for its input.
      let inputsRead = false;
      let inputs: Record<number, unknown> | undefined;
      let inputsError: TRPCError | undefined;
      const readInputs = (): Record<number, unknown> => {
        if (inputsRead) {
          if (inputsError) throw inputsError;
          return inputs!;
        }
        inputsRead = true;
        try {
          const text = method === 'GET' ? firstValue(query.input) : (req.body as string | undefined);
          inputs = parseInputs(text, isBatchCall, paths.length, deserialize);
          return inputs;
        } catch (cause) {
          inputsError = cause as TRPCError;
          throw inputsError;
        }
      };
      const inputResult = (index: number) => (inputsRead && !inputsError ? inputs![index] : undefined);

      const calls: Call[] = [];
      let type: TRPCProcedureType | 'unknown' = 'unknown';
      const types: TRPCProcedureType[] = [];
      for (let index = 0; index < paths.length; index++) {
        const path = paths[index]!;
        const found = lookUp(path);
        const procedure = found instanceof Promise ? await found : found;
        if (procedure && !types.includes(procedure._def.type)) types.push(procedure._def.type);
        calls.push({
          batchIndex: index,
          path,
          procedure,
          getRawInput: async () => readInputs()[index],
          result: () => inputResult(index),
        });
      }
      if (types.length > 1) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `Cannot mix procedure types in call: ${types.join(', ')}`,
        });
      }
      type = types[0] ?? 'unknown';
      // Subscriptions stream (SSE); the official handler serves them.
      if (type === 'subscription') return official(req, reply, rawPath);

      info = new RequestInfo(req, isBatchCall, calls, type, signal);
      if (isBatchCall && !allowBatching) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'Batching is not enabled on the server' });
      }

      // ---- context: a failure is reported by each call that reaches it, as tRPC does
      let ctxError: TRPCError | undefined;
      try {
        ctx = (await trpcOptions.createContext?.({ req, res: reply, info })) as inferRouterContext<TRouter>;
      } catch (cause) {
        ctxError = getTRPCErrorFromUnknown(cause);
      }

      const runCall = async (call: Call): Promise<CallResult> => {
        const procedure = call.procedure;
        try {
          if (!procedure) {
            throw new TRPCError({ code: 'NOT_FOUND', message: `No procedure found on path "${call.path}"` });
          }
          const procedureType = procedure._def.type;
          if (ACCEPTED_METHOD[procedureType] !== method) {
            // A 405 lists the methods the procedure accepts (RFC 9110 15.5.6).
            allow = ACCEPTED_METHOD[procedureType];
            throw new TRPCError({
              code: 'METHOD_NOT_SUPPORTED',
              message: `Unsupported ${method}-request to ${procedureType} procedure at path "${call.path}"`,
            });
          }
          if (ctxError) throw ctxError;
          const data = await procedure({
            path: call.path,
            getRawInput: call.getRawInput,
            ctx,
            type: procedureType,
            signal,
            batchIndex: call.batchIndex,
          });
          return [undefined, data];
        } catch (cause) {
          const error = getTRPCErrorFromUnknown(cause);
          onError?.({
            error,
            path: call.path,
            input: call.result(),
            ctx,
            type: procedure?._def.type ?? 'unknown',
            req,
          });
          return [error, undefined];
        }
      };

      const shapeOf = (error: TRPCError, call: Call, callType: TRPCProcedureType | 'unknown') =>
        getTRPCErrorShape({ config, ctx, error, input: call.result(), path: call.path, type: callType });

      // ---- httpLink: one call, one object
      if (!isBatchCall) {
        const call = calls[0]!;
        const [error, data] = await runCall(call);
        contentType = JSON_TYPE;
        if (!error && isDataStream(data)) {
          throw new TRPCError({
            code: 'UNSUPPORTED_MEDIA_TYPE',
            message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
          });
        }
        if (!error) return send(200, JSON.stringify(serialize({ result: { data } })));
        const response: TRPCResponse = { error: shapeOf(error, call, type) };
        return send(getHTTPStatusCode([response], [error]), JSON.stringify(serialize(response)));
      }

      // ---- httpBatchLink: every call in parallel, one array in call order
      contentType = JSON_TYPE;
      const results = await Promise.all(calls.map(runCall));
      const errors: (TRPCError | undefined)[] = [];
      const responses = results.map(([error, data], index): TRPCResponse => {
        const call = calls[index]!;
        let callError = error;
        if (!callError && isDataStream(data)) {
          callError = new TRPCError({
            code: 'UNSUPPORTED_MEDIA_TYPE',
            message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
          });
        }
        errors.push(callError);
        return callError
          ? { error: shapeOf(callError, call, call.procedure?._def.type ?? 'unknown') }
          : { result: { data } };
      });
      const status = getHTTPStatusCode(responses, errors);
      return send(status, JSON.stringify(serialize(responses)));
    } catch (cause) {
      // The whole request failed (bad path, batch refused, mixed types, unserializable output):
      // one error object, as tRPC answers it.
      const error = getTRPCErrorFromUnknown(cause);
      const errorType = info?.type ?? 'unknown';
      onError?.({ error, path: undefined, input: undefined, ctx, type: errorType, req });
      const response = {
        error: getTRPCErrorShape({ config, ctx, error, input: undefined, path: undefined, type: errorType }),
      };
      const status = getHTTPStatusCode(response, [error]);
      return send(status, JSON.stringify(serialize(response)));
    }
  });

  done();
}
