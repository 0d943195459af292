/**
 * An `HttpClient` over one undici keep-alive pool, made for a JSON API such as Stytch's, for Node apps.
 *
 * ```ts
 * const M2MClientsLive = HttpM2MClients.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer))
 * ```
 *
 * It is the platform's `HttpClient` (built with `HttpClient.make`, so spans, trace headers, `withScope`
 * and every combinator work as with any other), and differs from `NodeHttpClient.layerUndici` where
 * that matters to such an API:
 * - the pools (one per origin, at most `connections` sockets each) are the layer's own, and closing
 *   the layer destroys them and cancels their connects still pending, so no socket outlives it;
 * - an interrupted request is aborted, which frees its socket, whether it was waiting for the answer
 *   or reading the body; one interrupted before it was written leaves its socket (connecting or
 *   connected) to the next request, where undici would destroy it and open another.
 * - a body is read at most once, and at most `maxBodyBytes` of it: a longer one fails with a
 *   `ResponseError` as soon as the bound is passed (or at once, when `content-length` says so), and
 *   is never buffered whole;
 * - redirects are not followed: a 3XX is returned as the response it is;
 * - reading a body costs one callback per chunk and one `Effect.async`, where the platform's clients
 *   cache each body with `Effect.cached` and `Effect.runSync` per response;
 * - a response's `toJSON` (what tracers and loggers see) leaves the body out: answers may hold secrets.
 */
import type { HttpBody, HttpClientRequest } from "@effect/platform"
import { Cookies, Headers, HttpClient, HttpClientError, HttpClientResponse, UrlParams } from "@effect/platform"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import type { Scope } from "effect"
import { Duration, Effect, Exit, Inspectable, Layer, Option, Stream } from "effect"
import { setMaxListeners } from "node:events"
import { Readable } from "node:stream"
import type { Dispatcher } from "undici"
import { Pool } from "undici"

export interface Options {
  /**
   * The most bytes of a body that are read. Default 32 MiB: the largest answer Stytch's M2M API can
   * give is a search page of 1,000 clients with every field at its limit, about 13 MB.
   */
  readonly maxBodyBytes?: number | undefined
  /**
   * The most connections open (or opening) to one origin; requests beyond them wait for one. Default
   * 32. A bound matters when the server is slow: an attempt abandoned while its connection opens
   * leaves that connect pending, and without a bound every later attempt would start another.
   */
  readonly connections?: number | undefined
  /** How long an idle connection is kept open for the next request. Default 4 seconds (undici's). */
  readonly keepAlive?: Duration.DurationInput | undefined
  /** How long opening a connection may take. Default 10 seconds (undici's). */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

const defaultMaxBodyBytes = 32 * 1024 * 1024
const defaultConnections = 32

/** The client over pools that the scope owns and destroys when it closes. */
export const make = (options: Options = {}): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        // Every socket's connect listens to this signal: undici's `destroy()` cannot reach a connect still
        // pending (a client holds no socket before it completes), and a busy server may take seconds.
        const connects = new AbortController()
        setMaxListeners(0, connects.signal)
        const poolOptions: Pool.Options = {
          connections: options.connections ?? defaultConnections,
          ...(options.keepAlive === undefined ? {} : { keepAliveTimeout: Duration.toMillis(options.keepAlive) }),
          connect: {
            signal: connects.signal,
            ...(options.connectTimeout === undefined ? {} : { timeout: Duration.toMillis(options.connectTimeout) })
          }
        }
        return {
          connects,
          poolOptions,
          pools: new Map<string, { readonly pool: Pool; readonly dispatcher: Dispatcher }>()
        }
      }),
      // `destroy`, not `close`: close waits for requests in flight, which nothing is waiting for any more.
      ({ connects, pools }) =>
        Effect.promise(() => {
          const destroyed = Promise.all(Array.from(pools.values(), ({ pool }) => pool.destroy().catch(() => undefined)))
          connects.abort()
          return destroyed
        })
    ),
    ({ poolOptions, pools }) =>
      fromDispatcher(
        // Pools of our own, not an `Agent`'s: an `Agent` forgets an origin's pool (and only closes it) once
        // none of its sockets is connected, which under load leaves that pool's pending connects, and
        // those it starts next, out of reach of `destroy()`.
        (origin) => {
          let entry = pools.get(origin)
          if (entry === undefined) {
            const pool = new Pool(origin, poolOptions)
            entry = { pool, dispatcher: pool.compose(keepSocketOfAbandoned) }
            pools.set(origin, entry)
          }
          return entry.dispatcher
        },
        options.maxBodyBytes ?? defaultMaxBodyBytes
      )
  )

/** The client with the default options. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(HttpClient.HttpClient, make())

export const layerWith = (options: Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(HttpClient.HttpClient, make(options))

/**
 * Refuses to start a request whose signal fired before undici came to write it. undici would abort it
 * there, and its abort destroys the socket, though not a byte of the request was written on it: under
 * load, each attempt abandoned while waiting for a connection would cost one. A handler that throws
 * as the request starts instead fails only the request (the exception is caught where the request is
 * written), and the socket goes on to the next one.
 */
const keepSocketOfAbandoned: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (options, handler) =>
  dispatch(options, {
    onRequestStart: (controller, context) => {
      const { signal } = options as { readonly signal?: AbortSignal }
      if (signal?.aborted) throw signal.reason
      return handler.onRequestStart?.(controller, context)
    },
    onRequestUpgrade: (...args) => handler.onRequestUpgrade?.(...args),
    onResponseStart: (...args) => handler.onResponseStart?.(...args),
    onResponseData: (...args) => handler.onResponseData?.(...args),
    onResponseEnd: (...args) => handler.onResponseEnd?.(...args),
    onResponseError: (...args) => handler.onResponseError?.(...args)
  })

const fromDispatcher = (poolOf: (origin: string) => Dispatcher, maxBodyBytes: number): HttpClient.HttpClient =>
  // `make` brings the URL, the span when tracing is on, and the AbortSignal that it fires when the
  // request's fiber is interrupted, before the answer or while its body is read.
  HttpClient.make((request, url, signal) => {
    const body = requestBody(request.body)
    if (body === undefined) {
      return Effect.fail(
        new HttpClientError.RequestError({
          request,
          reason: "Encode",
          description: "the body is neither bytes, text, a stream nor form data"
        })
      )
    }
    return Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume) => {
      poolOf(url.origin).request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers: request.headers,
        body,
        signal
      }).then(
        (source) => resume(Effect.succeed(new UndiciResponse(request, source, maxBodyBytes))),
        // The cause is undici's or Node's own error, so its `code` (ECONNREFUSED, UND_ERR_SOCKET...) says
        // whether the request could have reached the server.
        (cause) => resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
      )
    })
  })

const requestBody = (body: HttpBody.HttpBody): Dispatcher.DispatchOptions["body"] | undefined => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
      return body.body
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array || body.body instanceof Readable
        ? body.body
        : undefined
    case "FormData":
      return body.formData as Dispatcher.DispatchOptions["body"]
    case "Stream":
      return Readable.from(Stream.toAsyncIterable(body.stream))
  }
}

const noop = () => {}

const utf8Bom = (bytes: Uint8Array) => bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf

/**
 * A response over undici's answer. Its body is read once, by whichever of `text`, `json`,
 * `arrayBuffer`, `urlParamsBody`, `formData` or `stream` comes first; the bytes read are kept for the
 * others, and a stream taken first leaves nothing for them.
 */
class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId
  /** The body, once read (or once its reading failed). */
  private read: Exit.Exit<Buffer, HttpClientError.ResponseError> | undefined
  private waiting: Array<(exit: Exit.Exit<Buffer, HttpClientError.ResponseError>) => void> | undefined
  private streamed = false

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly source: Dispatcher.ResponseData,
    private readonly maxBodyBytes: number
  ) {
    super()
    this[IncomingMessage.TypeId] = IncomingMessage.TypeId
    this[HttpClientResponse.TypeId] = HttpClientResponse.TypeId
    // A body nobody reads may still fail (the socket closes); unheard, that error would end the process.
    source.body.on("error", noop)
  }

  get status(): number {
    return this.source.statusCode
  }

  private cachedHeaders: Headers.Headers | undefined
  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.source.headers)
  }

  private cachedCookies: Cookies.Cookies | undefined
  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const header = this.source.headers["set-cookie"]
    return this.cachedCookies = header === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private failure(description: string, cause?: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      description,
      ...(cause === undefined ? {} : { cause })
    })
  }

  private settle(exit: Exit.Exit<Buffer, HttpClientError.ResponseError>) {
    if (this.read !== undefined) return
    this.read = exit
    const waiting = this.waiting
    this.waiting = undefined
    if (waiting !== undefined) { for (const resume of waiting) resume(exit) }
  }

  private startReading() {
    const body = this.source.body
    const max = this.maxBodyBytes
    const tooLarge = () => {
      this.settle(Exit.fail(this.failure(`the body is larger than ${max} bytes`)))
      // Destroying the unread rest aborts the request, which closes its socket.
      body.destroy()
    }
    const declared = Number(this.source.headers["content-length"])
    if (declared > max) return tooLarge()
    const chunks: Array<Buffer> = []
    let length = 0
    body.on("data", (chunk: Buffer) => {
      length += chunk.length
      if (length > max) return tooLarge()
      chunks.push(chunk)
    })
    body.on("end", () => this.settle(Exit.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length))))
    // Built only when the body is still unread: every body closes after its end, and an error is costly.
    body.on("error", (cause) => {
      if (this.read === undefined) this.settle(Exit.fail(this.failure("the body could not be read", cause)))
    })
    body.on("close", () => {
      if (this.read === undefined) this.settle(Exit.fail(this.failure("the body ended early")))
    })
  }

  /** The whole body, read on first use. */
  private get bytes(): Effect.Effect<Buffer, HttpClientError.ResponseError> {
    if (this.read !== undefined) return this.read
    if (this.streamed) return Exit.fail(this.failure("the body was already read as a stream"))
    return Effect.async<Buffer, HttpClientError.ResponseError>((resume) => {
      // Read already, by an effect made before the read began.
      if (this.read !== undefined) return resume(this.read)
      const first = this.waiting === undefined
      const waiting = this.waiting ??= []
      waiting.push(resume)
      if (first) this.startReading()
      return Effect.sync(() => {
        const index = waiting.indexOf(resume)
        if (index >= 0) waiting.splice(index, 1)
        // Nobody is waiting for the rest: abort the request and free its socket.
        if (waiting.length === 0 && this.read === undefined) {
          this.settle(Exit.fail(this.failure("reading the body was interrupted")))
          this.source.body.destroy()
        }
      })
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.map(
      this.bytes,
      (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    )
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.bytes, (bytes) => bytes.toString("utf8", utf8Bom(bytes) ? 3 : 0))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) => {
      if (text === "") return Effect.succeed(null)
      try {
        return Effect.succeed(JSON.parse(text) as unknown)
      } catch (cause) {
        return Effect.fail(this.failure("the body is not JSON", cause))
      }
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.bytes, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: { "content-type": this.headers["content-type"] ?? "" } }).formData(),
        catch: (cause) => this.failure("the body is not form data", cause)
      }))
  }

  /** The body as it arrives, unbounded: the consumer decides how much of it to keep. */
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.suspend(() => {
      if (this.read !== undefined) return Stream.fromEffect(this.bytes)
      if (this.streamed || this.waiting !== undefined) {
        return Stream.fail(this.failure("the body is already being read"))
      }
      this.streamed = true
      return Stream.fromAsyncIterable(
        this.source.body as AsyncIterable<Uint8Array>,
        (cause) => this.failure("the body could not be read", cause)
      )
    })
  }

  toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientResponse",
      // Not the request's own JSON form, which shows its headers (Authorization) and body as they are.
      request: { method: this.request.method, url: this.request.url },
      status: this.status,
      headers: Inspectable.redact(this.headers)
    }
  }
}
