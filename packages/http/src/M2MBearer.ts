/**
 * An `HttpClient` decorator for a worker's outgoing calls: every request carries
 * `Authorization: Bearer <token>` with a token from `M2MTokenCache`, and a 401 from the downstream
 * drops that token and sends the request once more with a fresh one.
 *
 * ```ts
 * const billing = yield* HttpClient.HttpClient.pipe(Effect.flatMap(M2MBearer.withToken(request)))
 * ```
 *
 * The token travels only in the header, which the platform redacts in its logs and spans
 * (`Authorization` is among `Headers.currentRedactedNames`). Decorate only the client of the calls
 * that need the token: the client the token layer itself uses must stay undecorated.
 */
import { HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import type { HttpBody } from "@effect/platform"
import type { M2MToken, M2MTokenRequest, TokenError } from "@stytch-effect/core"
import { M2MTokenCache } from "@stytch-effect/core"
import { Duration, Effect, Layer } from "effect"

/**
 * Whether a body can be sent a second time. A stream may be single-use (and a raw body may be one),
 * so a request with such a body gets its 401 back instead of a retry with an empty or partial body.
 */
const replayable = (body: HttpBody.HttpBody): boolean =>
  body._tag === "Empty" || body._tag === "Uint8Array" || body._tag === "FormData"

/** How long a refused answer's body is read before the retry goes out anyway. */
const drainLimit = Duration.seconds(1)

/**
 * `client`, with a bearer token from the cache on every request. The cache's errors (`TokenError`,
 * typed as `M2MTokens.token`'s) join the client's own; a request whose token cannot be had is not sent.
 */
export const decorate =
  (cache: M2MTokenCache.Service, tokenRequest: M2MTokenRequest) =>
  <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E | TokenError, R> => {
    const send = (request: HttpClientRequest.HttpClientRequest, token: M2MToken) =>
      client.execute(HttpClientRequest.bearerToken(request, token.access_token))
    return HttpClient.makeWith<never, never, E | TokenError, R>(
      (prepared) =>
        Effect.flatMap(prepared, (request) =>
          Effect.gen(function*() {
            const token = yield* cache.token(tokenRequest)
            const response = yield* send(request, token)
            if (response.status !== 401 || !replayable(request.body)) return response
            // Read the refused answer to the end, so its connection goes back to the pool; but only for
            // so long: a body that never ends must not hold the retry.
            yield* Effect.ignore(Effect.timeout(response.arrayBuffer, drainLimit))
            // Drops this token only if it is still the cached one: concurrent 401s cause one new token.
            yield* cache.invalidate(token)
            return yield* send(request, yield* cache.token(tokenRequest))
          })),
      Effect.succeed
    )
  }

/** `decorate` with the `M2MTokenCache` from context: `HttpClient.HttpClient.pipe(Effect.flatMap(withToken(request)))`. */
export const withToken = (tokenRequest: M2MTokenRequest) =>
<E, R>(
  client: HttpClient.HttpClient.With<E, R>
): Effect.Effect<HttpClient.HttpClient.With<E | TokenError, R>, never, M2MTokenCache> =>
  Effect.map(M2MTokenCache, (cache) => decorate(cache, tokenRequest)(client))

/**
 * The `HttpClient` below it, decorated: provide it to the layers of the services whose calls carry
 * the token (`MyApi.layer.pipe(Layer.provide(M2MBearer.layer(request)))`), never to the token layer.
 *
 * `HttpClient.HttpClient` fails only with `HttpClientError`, so here a token that cannot be had is a
 * `RequestError` with reason `"Transport"` (no request was sent), whose `cause` is the tagged token
 * error. Use `withToken` to keep the token errors in the client's type.
 */
export const layer = (
  tokenRequest: M2MTokenRequest
): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient | M2MTokenCache> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const cache = yield* M2MTokenCache
      const client = yield* HttpClient.HttpClient
      const decorated = decorate(cache, tokenRequest)(client)
      return HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
        (prepared) =>
          Effect.flatMap(prepared, (request) =>
            Effect.mapError(decorated.execute(request), (error): HttpClientError.HttpClientError =>
              HttpClientError.isHttpClientError(error) ? error : new HttpClientError.RequestError({
                request,
                reason: "Transport",
                cause: error,
                description: `no access token for ${tokenRequest.client_id}: ${error._tag}`
              }))),
        Effect.succeed
      )
    })
  )
