/**
 * Answers given before tRPC sees a request, in tRPC's error envelope.
 *
 * Some requests under `/trpc` never reach a procedure: Node's HTTP parser refuses headers over
 * its limit (431) or a malformed request (400), Fastify refuses a body over `bodyLimit` (413), a
 * content type it has no parser for (415: a form, an octet stream, a body without a type), a URL
 * it cannot decode (400) or a path over `maxParamLength` (414), and paths no route matches (404:
 * `/trpc` itself, `/trpc/a/b`). The contract wants every answer under `/trpc` in tRPC's shape
 * with `error.data.appCode`, so these are built by the router's own error formatter, keeping
 * their HTTP status: 413 `PAYLOAD_TOO_LARGE`, 415 `UNSUPPORTED_MEDIA_TYPE`, 404 `NOT_FOUND`,
 * any other 4xx `INVALID_INPUT`. Answers outside `/trpc` keep Fastify's shape.
 */

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import {
  type AnyTRPCRouter,
  getTRPCErrorShape,
  type TRPC_ERROR_CODE_KEY,
  TRPCError,
  transformTRPCResponse,
} from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyPluginCallback,
  FastifyPluginOptions,
  FastifyReply,
  FastifyRequest,
} from 'fastify';

export const TRPC_PREFIX = '/trpc';

/** True for `/trpc` and every path below it (not `/trpcx`), with or without a query. */
export function isTrpcUrl(url: string): boolean {
  if (!url.startsWith(TRPC_PREFIX)) return false;
  const next = url.charAt(TRPC_PREFIX.length);
  return next === '' || next === '/' || next === '?';
}

/** The tRPC code a framework refusal stands for, by its HTTP status. */
function codeForStatus(status: number): TRPC_ERROR_CODE_KEY {
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  return status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR';
}

/**
 * The JSON body of one refusal, shaped by the router's error formatter (which adds the appCode
 * and, having no context, never a stack). `data.httpStatus` is the status actually sent: tRPC
 * has no code for 414 or 431, so those say BAD_REQUEST with their own status.
 */
export function trpcErrorBody(router: AnyTRPCRouter, status: number, message: string): string {
  const config = router._def._config;
  const error = new TRPCError({ code: codeForStatus(status), message });
  const shape = getTRPCErrorShape({
    config,
    ctx: undefined,
    error,
    input: undefined,
    path: undefined,
    type: 'unknown',
  });
  if (getHTTPStatusCodeFromError(error) !== status) shape.data = { ...shape.data, httpStatus: status };
  return JSON.stringify(transformTRPCResponse(config, { error: shape }));
}

/** The message a client is told; Fastify's own ("Unsupported Media Type") says less than this. */
function messageFor(err: FastifyError, req: FastifyRequest): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const type = req.headers['content-type'];
      return type
        ? `Unsupported content-type "${type}": send the input as JSON with content-type: application/json`
        : 'Missing content-type header: send the input as JSON with content-type: application/json';
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Request body is too large';
    default:
      return err.message;
  }
}

function send(reply: FastifyReply, router: AnyTRPCRouter, status: number, message: string) {
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(trpcErrorBody(router, status, message));
}

/**
 * Wraps a tRPC plugin (registered with `prefix: '/trpc'`) in a scope whose not-found and error
 * handlers answer in tRPC's envelope. The error handler only sees what Fastify refused before
 * the route's handler ran (body too large, no parser for the content type): tRPC's handlers
 * answer every error of their own.
 */
export function withTRPCErrorShape<TOptions extends FastifyPluginOptions>(
  router: AnyTRPCRouter,
  plugin: FastifyPluginCallback<TOptions> | FastifyPluginAsync<TOptions>,
): FastifyPluginAsync<TOptions> {
  return async (scope, { prefix: _prefix, ...options }) => {
    scope.setNotFoundHandler((req, reply) => {
      const path = req.url.slice(TRPC_PREFIX.length).split('?', 1)[0]!.replace(/^\//, '');
      return send(reply, router, 404, `No procedure found on path "${path}"`);
    });
    scope.setErrorHandler((err: FastifyError, req, reply) => {
      const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
      if (status >= 500) {
        req.log.error({ err }, 'request failed');
        return send(reply, router, 500, 'Internal server error');
      }
      return send(reply, router, status, messageFor(err, req));
    });
    // The prefix is this scope's; the plugin's routes sit directly under it.
    await scope.register(plugin, options as TOptions);
  };
}

/**
 * Fastify's `frameworkErrors`: a URL it cannot decode (400) or a path parameter over
 * `maxParamLength` (414), found before routing, so no scope's handler sees them.
 */
export function frameworkErrors(router: AnyTRPCRouter) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode ?? 400;
    if (!isTrpcUrl(req.url)) return reply.code(status).send(err);
    const message =
      err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'The procedure path is too long' : 'Malformed URL';
    return send(reply, router, status, message);
  };
}

// The request line of a request (`GET /trpc/x HTTP/1.1`), when the packet starts with one.
const REQUEST_LINE = /^[A-Z]+ (\S+) HTTP\/\d\.\d\r?\n/;

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refused (headers over its limit: 431;
 * a malformed request: 400; a request too slow to arrive: 408), answered on the socket, as
 * Fastify's default handler does. Under `/trpc` the body is tRPC's envelope; the path is read
 * from the refused packet's request line, and when the packet does not start with one (headers
 * that arrived in several reads) the answer is the envelope too, as for the API's main surface.
 */
export function clientErrorHandler(router: AnyTRPCRouter) {
  return function onClientError(this: FastifyInstance, err: ConnectionError, socket: Socket) {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    // Node sets `rawPacket` to the Buffer it was parsing (Fastify's type describes its JSON form).
    const packet: unknown = err.rawPacket;
    const target = Buffer.isBuffer(packet)
      ? REQUEST_LINE.exec(packet.toString('latin1', 0, 8192))?.[1]
      : undefined;
    const reason = STATUS_CODES[status] ?? 'Bad Request';
    const body =
      target === undefined || isTrpcUrl(target)
        ? trpcErrorBody(
            router,
            status,
            status === 431
              ? 'Request header fields too large'
              : status === 408
                ? 'Request timed out'
                : 'Malformed HTTP request',
          )
        : JSON.stringify({ error: reason, message: reason, statusCode: status });
    this.log.trace({ err }, 'client error');
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}
