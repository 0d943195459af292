/**
 * The `M2MTokens` service over an `HttpClient`: one POST to the token endpoint per call, with the
 * clients layer's answer reading and typed transport errors (`client.ts`) and its attempt driver, with
 * per-attempt deadlines and backoff (`attempts.ts`). A token request changes nothing on the server, so
 * every failure worth another attempt is retried, whether or not the server may have seen it.
 */
import { HttpClientError, HttpClientRequest } from "@effect/platform"
import type { M2MTokenRequest } from "@stytch-effect/core"
import { M2MToken, M2MTokens, MalformedResponse, projectPath, tokenOperation } from "@stytch-effect/core"
import type { Tracer } from "effect"
import { Effect, Either, Redacted } from "effect"
import type { AttemptClient } from "./apiClient.js"
import type { RetryPolicy } from "./attempts.js"
import * as Attempts from "./attempts.js"
import { answer, currentSpan, keptRequestId, quoting, transportFailure } from "./client.js"
import type { Deadlines } from "./deadlines.js"

export interface TokenServiceOptions {
  readonly projectId: string
  readonly retry: RetryPolicy | undefined
  readonly deadlines: Deadlines
}

/**
 * The request's form body. Form rather than JSON: RFC 6749 (section 4.4.2) defines the token request
 * as `application/x-www-form-urlencoded`, and it is what Stytch's own Node and Go SDKs send, so it is
 * the encoding Stytch's endpoint certainly serves and any OAuth2 proxy in front of it understands; JSON
 * is Stytch's extension. The credentials go in the body (`client_id`, `client_secret`) as those SDKs
 * send them, and no scope at all when none is asked, as `scope=""` means nothing documented.
 */
const formOf = (request: M2MTokenRequest): Record<string, string> => ({
  ...request.extra,
  grant_type: "client_credentials",
  client_id: request.client_id,
  // The one place the client secret leaves Redacted: the body of the request to the token endpoint.
  client_secret: Redacted.value(request.client_secret),
  ...(request.scopes === undefined || request.scopes.length === 0 ? {} : { scope: request.scopes.join(" ") })
})

/** The service over a client that already carries the base URL and headers. */
export const makeTokenService = (client: AttemptClient, options: TokenServiceOptions): M2MTokens.Service => {
  const path = projectPath(tokenOperation.route, options.projectId)
  const operation = tokenOperation.name
  const driver = Attempts.make(options.retry, options.deadlines)

  return M2MTokens.make({
    token: (request) => {
      const httpRequest = HttpClientRequest.bodyUrlParams(HttpClientRequest.post(path), formOf(request))
      // An error body that quotes the client's secret is not kept.
      const quotes = quoting([request.client_secret])
      let attempts = 0
      const retried = (span: Tracer.Span | undefined) =>
        driver.run(operation, (number) => {
          attempts = number
          // As in the clients' `send`: the span gets the number of the last attempt begun.
          span?.attribute("m2m.attempts", number)
          return Effect.zipRight(
            // M2MTokens.make provides the operation's span as the parent span: the attempt inherits it.
            client.enter(undefined),
            client.client.execute(httpRequest).pipe(
              Effect.flatMap((response) => answer(tokenOperation, response, number, quotes, span)),
              // The platform's error holds the request, and with it the secret in its body: only a
              // description of it is kept.
              Effect.catchIf(
                HttpClientError.isHttpClientError,
                (error) => Effect.fail(transportFailure(operation, error, number))
              )
            )
          )
        }, { repeatable: () => true })
      return Effect.flatMap(currentSpan, (span) => {
        span?.attribute("m2m.attempts", 0)
        return retried(span).pipe(
          Effect.mapError((failure) => failure.error as Effect.Effect.Error<ReturnType<M2MTokens.Service["token"]>>),
          Effect.flatMap((answered) => {
            // A server that echoes the request would put the secret into the token's request_id,
            // which its toString shows: it is not kept.
            const decoded = quotes(answered.request_id) ? { ...answered, request_id: "" } : answered
            // A token for another client is not the one asked for (and would prove the wrong secret in
            // `proveByToken`): as malformed as one that cannot be read.
            const token = Either.filterOrLeft(
              M2MToken.fromAnswer(decoded),
              (read) => read.client_id === request.client_id,
              () => "the access token's sub claim is not the client asked for"
            )
            return Either.match(token, {
              // A 2XX whose token cannot be read: what it says about itself (expiry, scopes) is unknown.
              onLeft: (description) =>
                Effect.fail(
                  new MalformedResponse({
                    operation,
                    status_code: decoded.status_code,
                    request_id: keptRequestId(decoded),
                    description,
                    attempts
                  })
                ),
              onRight: Effect.succeed
            })
          })
        )
      })
    }
  })
}

/**
 * A secret proven by a token request with it: only the client's own secret gets one. An inactive
 * client's correct secret is refused with `ClientInactive`, which proves it all the same; any other
 * failure proves nothing, and fails.
 */
export const proveByToken = (tokens: M2MTokens.Service) => (client_id: string, secret: Redacted.Redacted<string>) =>
  tokens.token({ client_id, client_secret: secret }).pipe(
    Effect.as(true),
    Effect.catchTags({
      ClientInactive: () => Effect.succeed(true),
      InvalidClientCredentials: () => Effect.succeed(false)
    })
  )
