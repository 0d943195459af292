/**
 * The `HttpClient` every service of this package sends through: the app's client pointed at the API's
 * base URL, with the headers every request carries, no redirects followed and no platform span.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientRequest as Request } from "@effect/platform"
import { Context, Effect, FiberRef, FiberRefs, Function, Option, Tracer } from "effect"

/** The decorated client, and what each attempt through it sets first in its own fiber. */
export interface AttemptClient {
  /** The app's client with the base URL and headers, but neither the span switch nor fetch's options. */
  readonly client: HttpClient.HttpClient
  /**
   * Turns the platform's request span off, gives fetch its options and makes `parentSpan` (if given)
   * the parent span, in the current fiber, for good: so it must run first in a fiber of the attempt's
   * own, as `Deadlines.limit` runs every attempt. Set there in one FiberRefs update, instead of by
   * `withTracerDisabledWhen` (a `locally`) and `provideService` around every request: scopes set and
   * restored per call, which cost more (`get` benchmark, `packages/bench/results/get.md`).
   */
  readonly enter: (parentSpan: Tracer.Span | undefined) => Effect.Effect<void>
}

/** Redirects are never followed (see `isRedirect` in client.ts). */
const requestInitOf = Effect.map(
  Effect.serviceOption(FetchHttpClient.RequestInit),
  // Fetch reads its options from each request's context, where they replace the app's own: so the
  // app's are kept in them.
  (init): globalThis.RequestInit => ({ ...Option.getOrUndefined(init), redirect: "manual" })
)

const pointedAt = (client: HttpClient.HttpClient, baseUrl: string, headers: Readonly<Record<string, string>>) =>
  // The headers are built once, by the caller, not per request.
  HttpClient.mapRequest(
    client,
    (request: Request.HttpClientRequest) =>
      HttpClientRequest.setHeaders(HttpClientRequest.prependUrl(request, baseUrl), headers)
  )

export const apiClient = (
  baseUrl: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const requestInit = yield* requestInitOf
    return pointedAt(yield* HttpClient.HttpClient, baseUrl, headers).pipe(
      HttpClient.transform((effect) => Effect.provideService(effect, FetchHttpClient.RequestInit, requestInit)),
      // The platform's own request span would hold the request (and its secrets); see `requestSpan` in
      // client.ts for the one we keep instead.
      HttpClient.withTracerDisabledWhen(() => true)
    )
  })

/** `apiClient` for attempts run by `Deadlines.limit`, whose per-request settings `enter` makes once. */
export const attemptClient = (
  baseUrl: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<AttemptClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const requestInit = yield* requestInitOf
    const client = pointedAt(yield* HttpClient.HttpClient, baseUrl, headers)
    const enter = (parentSpan: Tracer.Span | undefined) =>
      Effect.updateFiberRefs((fiberId, refs) => {
        const context = Context.add(
          FiberRefs.getOrDefault(refs, FiberRef.currentContext),
          FetchHttpClient.RequestInit,
          requestInit
        )
        return FiberRefs.updateManyAs(refs, {
          entries: [
            [HttpClient.currentTracerDisabledWhen, [[fiberId, Function.constTrue]]],
            [FiberRef.currentContext, [[
              fiberId,
              parentSpan === undefined ? context : Context.add(context, Tracer.ParentSpan, parentSpan)
            ]]]
          ]
        })
      })
    return { client, enter }
  })
