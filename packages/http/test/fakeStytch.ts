/**
 * A fake `HttpClient` standing in for Stytch: it records every request as sent and answers from a
 * script, so tests pin the wire exactly and stage faults (dropped connections, lost answers, hangs)
 * without a network. Times are read from the `Clock`, so on the `TestClock` they show the backoff.
 */
import { HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import type { HttpClientRequest } from "@effect/platform"
import { M2MClients, M2MTokens } from "@stytch-effect/core"
import { Clock, Effect, Layer, Redacted, TestClock, Tracer } from "effect"
import { HttpM2MClients, HttpM2MTokens } from "../src/index.js"

export const projectId = "project-test-11111111-2222-3333-4444-555555555555"
export const projectSecret = "secret-test-PROJECT-SECRET-do-not-leak"
export const basicAuth = `Basic ${Buffer.from(`${projectId}:${projectSecret}`).toString("base64")}`

/** A request as it reached the wire. */
export interface Sent {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
  /** `Clock` time when it was sent. */
  readonly at: number
}

export type Reply =
  | {
    readonly status: number
    readonly body?: unknown
    readonly text?: string
    readonly headers?: Record<string, string>
  }
  /** The connection broke after the request went out: the server may have acted. */
  | "drop"
  /** The connection was refused: nothing reached the server. */
  | "refuse"
  /** No answer ever comes. */
  | "hang"

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  body,
  headers
})

const decoder = new TextDecoder()

/** A JSON body parsed; a form body (the token request's) as its fields. */
const bodyOf = (request: HttpClientRequest.HttpClientRequest): unknown => {
  if (request.body._tag !== "Uint8Array") return undefined
  const text = decoder.decode(request.body.body)
  return request.body.contentType === "application/x-www-form-urlencoded"
    ? Object.fromEntries(new URLSearchParams(text))
    : JSON.parse(text)
}

const connectionError = (request: HttpClientRequest.HttpClientRequest, code: string) =>
  new HttpClientError.RequestError({
    request,
    reason: "Transport",
    // Shaped as fetch reports it: a TypeError whose cause carries Node's error code.
    cause: new TypeError("fetch failed", { cause: Object.assign(new Error(`${code} ${request.url}`), { code }) })
  })

export interface FakeStytch {
  readonly sent: Array<Sent>
  readonly client: HttpClient.HttpClient
}

/** A fake answering each request with `reply(request, n)`, `n` counting requests from 1. */
export const fakeStytch = (reply: (request: Sent, n: number) => Reply): FakeStytch => {
  const sent: Array<Sent> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const entry: Sent = {
        method: request.method,
        url,
        headers: { ...request.headers },
        body: bodyOf(request),
        at: yield* Clock.currentTimeMillis
      }
      sent.push(entry)
      const answer = reply(entry, sent.length)
      if (answer === "hang") return yield* Effect.never
      if (answer === "drop") return yield* Effect.fail(connectionError(request, "ECONNRESET"))
      if (answer === "refuse") return yield* Effect.fail(connectionError(request, "ECONNREFUSED"))
      const text = answer.text ?? (answer.body === undefined ? "" : JSON.stringify(answer.body))
      return HttpClientResponse.fromWeb(
        request,
        new Response(text, {
          status: answer.status,
          headers: { "content-type": "application/json", ...answer.headers }
        })
      )
    })
  )
  return { sent, client }
}

/** The http layer over a fake, with the test project's credentials. */
export const layerOver = (
  fake: FakeStytch,
  options: Partial<HttpM2MClients.Options> = {}
) =>
  HttpM2MClients.layer({ projectId, secret: Redacted.make(projectSecret), ...options }).pipe(
    Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client))
  )

/** Runs `f` against the http layer over a fake answering with `reply`. */
export const withFake = <A, E>(
  reply: (request: Sent, n: number) => Reply,
  f: (clients: M2MClients.Service, fake: FakeStytch) => Effect.Effect<A, E>,
  options: Partial<HttpM2MClients.Options> = {}
) => {
  const fake = fakeStytch(reply)
  return Effect.flatMap(M2MClients, (clients) => f(clients, fake)).pipe(Effect.provide(layerOver(fake, options)))
}

/** Runs `f` against the http token service over a fake answering with `reply`. */
export const withFakeTokens = <A, E>(
  reply: (request: Sent, n: number) => Reply,
  f: (tokens: M2MTokens.Service, fake: FakeStytch) => Effect.Effect<A, E>,
  options: Partial<HttpM2MTokens.Options> = {}
) => {
  const fake = fakeStytch(reply)
  return Effect.flatMap(M2MTokens, (tokens) => f(tokens, fake)).pipe(
    Effect.provide(
      HttpM2MTokens.layer({ projectId, ...options }).pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client))
      )
    )
  )
}

/** Runs an effect to its end on the `TestClock`, moving the clock through every sleep it meets. */
export const runOnTestClock = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust("1 hour")
    return yield* fiber
  })

/** A tracer that keeps every span it starts, to read their attributes. */
export const recordSpans = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      context: base.context,
      span: (...args) => {
        const span = base.span(...args)
        spans.push(span)
        return span
      }
    })
    const exit = yield* Effect.exit(Effect.withTracer(effect, tracer))
    return { exit, spans }
  })

/** A client as Stytch answers it. */
export const wireClient = (fields: Record<string, unknown> = {}) => ({
  client_id: "m2m-client-test-1",
  client_name: "billing",
  client_description: "",
  status: "active",
  scopes: ["read:users"],
  client_secret_last_four: "abcd",
  next_client_secret_last_four: null,
  trusted_metadata: {},
  ...fields
})

export const ok = (payload: Record<string, unknown>): Reply =>
  json(200, { request_id: "request-id-test-ok", status_code: 200, ...payload })

export const stytchError = (status: number, error_type: string, extra: Record<string, unknown> = {}): Reply =>
  json(status, {
    status_code: status,
    request_id: `request-id-test-${error_type}`,
    error_type,
    error_message: `${error_type} happened`,
    error_url: `https://stytch.com/docs/api/errors/${status}`,
    ...extra
  })
