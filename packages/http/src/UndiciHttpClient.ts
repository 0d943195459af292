/**
 * An `HttpClient` over one undici keep-alive pool, made for a JSON API such as Stytch's, for Node apps.
 *
 * ```ts
 * const M2MClientsLive = HttpM2MClients.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer))
 * ```
 *
 * It is the platform's `HttpClient` (built with `HttpClient.makeWith`, and with `HttpClient.make` for a
 * request traced or under `withScope`, so spans, trace headers, `withScope` and every combinator work
 * as with any other), and differs from `NodeHttpClient.layerUndici` where that matters to such an API:
 * - the pools (one per origin, at most `connections` sockets each) are the layer's own, and closing
 *   the layer destroys them and cancels their connects still pending, so no socket outlives it;
 * - an interrupted request is aborted, which frees its socket, whether it was waiting for the answer
 *   or reading the body; one interrupted before it was written leaves its socket (connecting or
 *   connected) to the next request, where undici would destroy it and open another.
 * - a body is read at most once, and at most `maxBodyBytes` of it: a longer one fails with a
 *   `ResponseError` as soon as the bound is passed (or at once, when `content-length` says so), and
 *   is never buffered whole;
 * - a body arrives as it comes, before anyone reads it (up to 64 KiB, then its socket waits for a
 *   reader): a small answer is complete by the time the caller reads it, and its socket is free for
 *   the next request even if nobody ever reads it; a larger one's request is aborted once its
 *   response, dropped unread, is collected;
 * - redirects are not followed: a 3XX is returned as the response it is;
 * - a request costs one undici handler and one `Effect.async`, where the platform's clients add a
 *   promise, a `Readable` per body, an `AbortController` and a response wrapper per request, and cache
 *   each body with `Effect.cached` and `Effect.runSync`;
 * - a response's `toJSON` (what tracers and loggers see) leaves the body out: answers may hold secrets.
 */
import type { HttpBody, HttpClientRequest } from "@effect/platform"
import { Cookies, Headers, HttpClient, HttpClientError, HttpClientResponse, UrlParams } from "@effect/platform"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import type { Scope } from "effect"
import { Duration, Effect, Exit, FiberRef, Inspectable, Layer, Option, Stream } from "effect"
import { globalValue } from "effect/GlobalValue"
import { setMaxListeners } from "node:events"
import { Readable } from "node:stream"
import type { Dispatcher } from "undici"
import { Pool, util } from "undici"
import { bodyTooLarge } from "./internal/bodyLimit.js"

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
          pools: new Map<string, Pool>()
        }
      }),
      // `destroy`, not `close`: close waits for requests in flight, which nothing is waiting for any more.
      ({ connects, pools }) =>
        Effect.promise(() => {
          const destroyed = Promise.all(Array.from(pools.values(), (pool) => pool.destroy().catch(() => undefined)))
          connects.abort()
          return destroyed
        })
    ),
    ({ poolOptions, pools }) =>
      fromPools(
        // Pools of our own, not an `Agent`'s: an `Agent` forgets an origin's pool (and only closes it) once
        // none of its sockets is connected, which under load leaves that pool's pending connects, and
        // those it starts next, out of reach of `destroy()`.
        (origin) => {
          let pool = pools.get(origin)
          if (pool === undefined) {
            pool = new Pool(origin, poolOptions)
            pools.set(origin, pool)
          }
          return pool
        },
        options.maxBodyBytes ?? defaultMaxBodyBytes
      )
  )

/** The client with the default options. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(HttpClient.HttpClient, make())

export const layerWith = (options: Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(HttpClient.HttpClient, make(options))

/**
 * The requests that `HttpClient.withScope` ties to a scope, in the platform's own registry (a global
 * value, keyed as the platform keys it): such a request is left to the client `HttpClient.make` builds,
 * which aborts it when its scope closes.
 */
const scopedRequests = globalValue(
  "@effect/platform/HttpClient/scopedRequests",
  () => new WeakMap<HttpClientRequest.HttpClientRequest, AbortController>()
)

/**
 * With the tracer off (our http layer's default), a request skips `HttpClient.make`: its
 * `AbortController`, response wrapper and `FinalizationRegistry` entry per request cost about 80 µs
 * of CPU per `get` (the get benchmark's rung 3u: `execute`, then `text`, one call at a time), and this
 * client needs none of them: interrupting the request aborts it here, and a response dropped unread
 * has its own, cheaper, registry entry. With the tracer on, or a request under `withScope`, `make` takes
 * it, for its span, its trace headers and its scope.
 */
const fromPools = (poolOf: (origin: string) => Pool, maxBodyBytes: number): HttpClient.HttpClient => {
  const send = (
    request: HttpClientRequest.HttpClientRequest,
    url: URL,
    signal: AbortSignal | undefined
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
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
      const exchange = new Exchange(request, maxBodyBytes, resume)
      // `make`'s signal fires when the request's fiber is interrupted, before the answer or while its
      // body is read, when its response is dropped unread, or when its scope (`withScope`) closes.
      if (signal !== undefined) {
        if (signal.aborted) exchange.abort(false)
        else signal.addEventListener("abort", () => exchange.abort(false), { once: true })
      }
      poolOf(url.origin).dispatch({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers: request.headers,
        body
      }, exchange)
      return Effect.sync(() => exchange.abort())
    })
  }
  const traced = HttpClient.make((request, url, signal) => send(request, url, signal))
  return HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) =>
      Effect.flatMap(effect, (request) =>
        Effect.withFiberRuntime((fiber) => {
          if (
            (fiber.getFiberRef(FiberRef.currentTracerEnabled) &&
              !fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)) ||
            scopedRequests.has(request)
          ) return traced.execute(request)
          const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
          return url._tag === "Left"
            ? Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left }))
            : send(request, url.right, undefined)
        })),
    Effect.succeed
  )
}

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

const utf8Bom = (bytes: Uint8Array) => bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf

/** Bytes of a body kept while nobody reads it (or a stream's reader lags) before the socket is paused. */
const highWaterMark = 64 * 1024

/**
 * Aborts the request of a response dropped while its body was arriving and nobody read it: once 64 KiB
 * of it are in, its socket would wait for a reader until undici's body timeout (5 minutes). What
 * `HttpClient.make` does for the responses it wraps, for about 0.3 µs per response.
 */
const unread = new FinalizationRegistry<Exchange>((exchange) => exchange.abort())

/** Thrown where undici starts an abandoned request: it fails that request only, not its socket. */
const abandoned = new Error("the request was abandoned before it was sent")

interface Failure {
  readonly description: string
  readonly cause?: unknown
}

const enum State {
  /** Sent, or waiting to be; no answer yet. */
  Waiting,
  /** The answer's head is in; its body is arriving. */
  Body,
  Done,
  Failed
}

/**
 * One request and its answer, as undici's handler. The callbacks are the ones undici calls itself
 * (`onConnect`, `onHeaders`, `onData`...) as its parser goes: `Pool.request` would add its own
 * handler, a `Readable` per body and a promise, and a handler of the newer kind (`onRequestStart`...)
 * is wrapped in an adapter that parses every header; with an interceptor for the abandoned requests,
 * those cost about 165 µs more CPU per `get` (rung 3u). A small answer usually arrives whole in one
 * read, so its body is complete by the time the caller's fiber resumes and reads it.
 *
 * It holds no reference to its response (undici holds it until the answer ends), so a response dropped
 * unread can be collected.
 */
class Exchange implements Dispatcher.DispatchHandler {
  state = State.Waiting
  status = 0
  rawHeaders: Array<Buffer> = []
  /** The chunks of the body not yet taken (by a stream) or not yet joined. */
  chunks: Array<Buffer> = []
  /** The bytes in `chunks`. */
  length = 0
  body: Buffer | undefined
  failure: Failure | undefined
  /** How the body is read, once a reader has come: whole, or as a stream. */
  reader: "whole" | "stream" | undefined
  /** Told when the body is complete or failed, and in stream mode when a chunk arrives. */
  waiting: Array<() => void> = []
  private abandoned = false
  private abortRequest: ((error?: Error) => void) | undefined
  private resumeSocket: (() => void) | undefined
  private paused = false

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly maxBodyBytes: number,
    private onResponse:
      | ((effect: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>) => void)
      | undefined
  ) {}

  /**
   * Refuses to start a request whose caller is gone. Aborting it here would destroy the socket, though
   * not a byte of the request was written on it: under load, each attempt abandoned while waiting for a
   * connection would cost one. Throwing fails only the request (undici catches it where it writes the
   * request), and the socket goes on to the next one.
   */
  onConnect(abort: (error?: Error) => void): void {
    if (this.abandoned) throw abandoned
    this.abortRequest = abort
  }

  onHeaders(status: number, rawHeaders: Array<Buffer>, resume: () => void): boolean {
    // 1XX answers come before the answer.
    if (status < 200) return true
    this.state = State.Body
    this.status = status
    this.rawHeaders = rawHeaders
    this.resumeSocket = resume
    const onResponse = this.onResponse!
    this.onResponse = undefined
    const response = new UndiciResponse(this.request, this)
    unread.register(response, this, this)
    onResponse(Effect.succeed(response))
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.state !== State.Body) return false
    this.chunks.push(chunk)
    this.length += chunk.length
    if (this.reader === "whole") {
      if (this.length > this.maxBodyBytes) return this.tooLarge()
      return true
    }
    if (this.reader === "stream") this.tell()
    if (this.length < highWaterMark) return true
    this.paused = true
    return false
  }

  onComplete(): void {
    if (this.state !== State.Body) return
    this.state = State.Done
    unread.unregister(this)
    if (this.reader !== "stream") this.join()
    this.tell()
  }

  onError(error: Error): void {
    if (this.state === State.Waiting) {
      this.state = State.Failed
      const onResponse = this.onResponse
      this.onResponse = undefined
      // The cause is undici's or Node's own error, so its `code` (ECONNREFUSED, UND_ERR_SOCKET...)
      // says whether the request could have reached the server.
      onResponse?.(
        Effect.fail(new HttpClientError.RequestError({ request: this.request, reason: "Transport", cause: error }))
      )
    } else if (this.state === State.Body) {
      this.fail({ description: "the body could not be read", cause: error })
    }
  }

  /**
   * The caller is gone (`interrupted`), or the request's signal fired: before the answer, or while its
   * body arrives. Frees the socket. A caller still waiting gets the abort as a `RequestError`.
   */
  abort(interrupted = true): void {
    if (this.state === State.Waiting) {
      this.abandoned = true
      if (interrupted) this.onResponse = undefined
      this.abortRequest?.()
    } else if (this.state === State.Body) {
      this.fail({ description: "reading the body was interrupted" })
      // Destroys the socket, whose rest of the body nobody will read.
      this.abortRequest!()
    }
  }

  /** A reader for the whole body is here: the bound applies, and a paused socket goes on. */
  readWhole(): void {
    this.reader = "whole"
    unread.unregister(this)
    if (this.state !== State.Body) return
    const declared = Number(this.header("content-length"))
    if (declared > this.maxBodyBytes || this.length > this.maxBodyBytes) {
      this.tooLarge()
      return
    }
    this.unpause()
  }

  readStream(): void {
    this.reader = "stream"
    unread.unregister(this)
  }

  /** The next chunk for a stream, once `chunks` has one. */
  take(): Buffer {
    const chunk = this.chunks.shift()!
    this.length -= chunk.length
    if (this.length < highWaterMark) this.unpause()
    return chunk
  }

  private unpause() {
    if (!this.paused) return
    this.paused = false
    this.resumeSocket!()
  }

  private tooLarge(): false {
    this.fail(bodyTooLarge(this.maxBodyBytes))
    // Out of undici's parser, which calls this: aborting destroys the socket, and with it the unread rest.
    queueMicrotask(() => this.abortRequest!())
    return false
  }

  private join() {
    this.body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length)
    this.chunks = []
  }

  private fail(failure: Failure) {
    this.state = State.Failed
    unread.unregister(this)
    this.failure = failure
    this.chunks = []
    this.tell()
  }

  private tell() {
    const waiting = this.waiting
    if (waiting.length === 0) return
    this.waiting = []
    for (const wake of waiting) wake()
  }

  /** A response header's value as sent (the first, if it came more than once), by its lowercase name. */
  header(name: string): string | undefined {
    const raw = this.rawHeaders
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i]!
      if (key.length === name.length && key.toString("latin1").toLowerCase() === name) {
        return raw[i + 1]!.toString("latin1")
      }
    }
    return undefined
  }
}

/**
 * A response over an `Exchange`. Its body is read once, by whichever of `text`, `json`,
 * `arrayBuffer`, `urlParamsBody`, `formData` or `stream` comes first; the bytes read are kept for the
 * others, and a stream taken first leaves nothing for them.
 */
class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId
  /** The body, once read whole (or once its reading failed): the same exit for every reader. */
  private read: Exit.Exit<Buffer, HttpClientError.ResponseError> | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly exchange: Exchange
  ) {
    super()
    this[IncomingMessage.TypeId] = IncomingMessage.TypeId
    this[HttpClientResponse.TypeId] = HttpClientResponse.TypeId
  }

  get status(): number {
    return this.exchange.status
  }

  private parsedHeaders: Record<string, string | Array<string>> | undefined
  private get sourceHeaders(): Record<string, string | Array<string>> {
    return this.parsedHeaders ??= util.parseHeaders(this.exchange.rawHeaders) as Record<string, string | Array<string>>
  }

  private cachedHeaders: Headers.Headers | undefined
  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.sourceHeaders)
  }

  private cachedCookies: Cookies.Cookies | undefined
  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const header = this.sourceHeaders["set-cookie"]
    return this.cachedCookies = header === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private failure({ cause, description }: Failure): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      description,
      ...(cause === undefined ? {} : { cause })
    })
  }

  /** The exit of a body read whole, once it is complete or failed. */
  private settled(): Exit.Exit<Buffer, HttpClientError.ResponseError> | undefined {
    if (this.read !== undefined) return this.read
    const exchange = this.exchange
    if (exchange.state === State.Done) {
      return this.read = exchange.body!.length > exchange.maxBodyBytes
        ? Exit.fail(this.failure(bodyTooLarge(exchange.maxBodyBytes)))
        : Exit.succeed(exchange.body!)
    }
    if (exchange.state === State.Failed) return this.read = Exit.fail(this.failure(exchange.failure!))
    return undefined
  }

  /** The whole body, read on first use. */
  private get bytes(): Effect.Effect<Buffer, HttpClientError.ResponseError> {
    const exchange = this.exchange
    if (exchange.reader === "stream") {
      return Exit.fail(this.failure({ description: "the body was already read as a stream" }))
    }
    const settled = this.settled()
    if (settled !== undefined) return settled
    return Effect.async<Buffer, HttpClientError.ResponseError>((resume) => {
      if (exchange.reader === "stream") {
        return resume(Exit.fail(this.failure({ description: "the body was already read as a stream" })))
      }
      if (exchange.reader === undefined) exchange.readWhole()
      const now = this.settled()
      if (now !== undefined) return resume(now)
      const wake = () => resume(this.settled()!)
      exchange.waiting.push(wake)
      return Effect.sync(() => {
        const index = exchange.waiting.indexOf(wake)
        if (index >= 0) exchange.waiting.splice(index, 1)
        // Nobody is waiting for the rest: abort the request and free its socket.
        if (exchange.waiting.length === 0) exchange.abort()
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
        return Effect.fail(this.failure({ description: "the body is not JSON", cause }))
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
        catch: (cause) => this.failure({ description: "the body is not form data", cause })
      }))
  }

  /** The body as it arrives, unbounded: the consumer decides how much of it to keep. */
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.suspend(() => {
      const exchange = this.exchange
      if (this.read !== undefined) return Stream.fromEffect(this.read)
      if (exchange.reader !== undefined) {
        return Stream.fail(this.failure({ description: "the body is already being read" }))
      }
      // Complete (or failed) before anyone read it: the bytes as they came.
      if (exchange.state === State.Done) return Stream.succeed(exchange.body!)
      if (exchange.state === State.Failed) return Stream.fail(this.failure(exchange.failure!))
      exchange.readStream()
      const next: Effect.Effect<Uint8Array, Option.Option<HttpClientError.ResponseError>> = Effect.suspend(() => {
        if (exchange.chunks.length > 0) return Effect.succeed(exchange.take())
        if (exchange.state === State.Done) return Effect.fail(Option.none())
        if (exchange.state === State.Failed) return Effect.fail(Option.some(this.failure(exchange.failure!)))
        return Effect.zipRight(
          Effect.async<void>((resume) => {
            const wake = () => resume(Effect.void)
            exchange.waiting.push(wake)
            return Effect.sync(() => {
              const index = exchange.waiting.indexOf(wake)
              if (index >= 0) exchange.waiting.splice(index, 1)
            })
          }),
          next
        )
      })
      // A consumer that stops early frees the socket.
      return Stream.ensuring(Stream.repeatEffectOption(next), Effect.sync(() => exchange.abort()))
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
