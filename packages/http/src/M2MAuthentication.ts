/**
 * Protecting an HTTP API with M2M tokens: an `HttpApiMiddleware` for `HttpApi` (bearer security,
 * per-endpoint scopes declared as annotations beside the endpoint) and `requireClient` for apps on
 * `HttpRouter` or a plain `HttpApp`. Both provide the `CurrentClient` to handlers and answer as RFC
 * 6750 says: 401 `invalid_token` with `WWW-Authenticate`, 403 `insufficient_scope` naming the scope,
 * and 503 (not 401) when the project's keys cannot be had, so a Stytch outage is not every caller's
 * fault.
 *
 * The token is read from the `Authorization` header here, not from `HttpApiSecurity.bearer`'s value,
 * which slices seven characters off any header without checking the scheme and is `""` when there is
 * none. Nothing here logs or echoes the token; the answers' descriptions are fixed phrases.
 */
import type { HttpApi, HttpApiGroup } from "@effect/platform"
import {
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  HttpApp,
  HttpRouter,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import type { AuthenticatedClient, VerifyError } from "@stytch-effect/core"
import { CurrentClient, isInvalidToken, M2MTokenVerifier } from "@stytch-effect/core"
import type { Duration } from "effect"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"

// ---------------------------------------------------------------------------------------------------
// What an endpoint requires

/**
 * The scopes an endpoint (or every endpoint of a group) requires, as an annotation:
 * `HttpApiEndpoint.get("list", "/invoices").annotate(RequiredScopes, ["read:invoices"])`. A group's and
 * its endpoint's scopes are all required.
 */
export class RequiredScopes extends Context.Tag("@stytch-effect/http/RequiredScopes")<
  RequiredScopes,
  ReadonlyArray<string>
>() {}

/**
 * The oldest token an endpoint accepts, since its `iat`, as an annotation. Stytch does not revoke
 * tokens (deactivating a client only stops new ones), so this bounds how long a token outlives a
 * decision on sensitive routes. The endpoint's wins over its group's.
 */
export class MaxTokenAge extends Context.Tag("@stytch-effect/http/MaxTokenAge")<
  MaxTokenAge,
  Duration.DurationInput
>() {}

// ---------------------------------------------------------------------------------------------------
// The answers

/** 401: no bearer token, or one that is not acceptable. */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>("@stytch-effect/http/Unauthenticated")(
  "Unauthenticated",
  { error: Schema.Literal("invalid_token"), error_description: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** 403: a valid token without a required scope; `scope` lists the scopes the endpoint requires. */
export class InsufficientScope extends Schema.TaggedError<InsufficientScope>("@stytch-effect/http/InsufficientScope")(
  "InsufficientScope",
  { error: Schema.Literal("insufficient_scope"), error_description: Schema.String, scope: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/** 503: the project's signing keys are unavailable; the token may well be valid. */
export class AuthenticationUnavailable
  extends Schema.TaggedError<AuthenticationUnavailable>("@stytch-effect/http/AuthenticationUnavailable")(
    "AuthenticationUnavailable",
    { error: Schema.Literal("temporarily_unavailable"), error_description: Schema.String },
    HttpApiSchema.annotations({ status: 503 })
  )
{}

export type AuthenticationFailure = Unauthenticated | InsufficientScope | AuthenticationUnavailable

/** Fixed phrases, so an answer never echoes what the caller sent (an issuer, a `kid`). */
const descriptions: Record<VerifyError["_tag"], string> = {
  MalformedToken: "The access token is malformed",
  BadSignature: "The access token's signature is invalid",
  UnknownSigningKey: "The access token is signed by an unknown key",
  TokenExpired: "The access token has expired",
  TokenNotYetValid: "The access token is not valid yet",
  TokenTooOld: "The access token is too old for this resource",
  WrongIssuer: "The access token has another issuer",
  WrongAudience: "The access token is for another audience",
  NotAnM2MToken: "The access token is not an M2M access token",
  MissingScopes: "The access token lacks a required scope",
  KeysUnavailable: "The signing keys are temporarily unavailable"
}

const noToken = new Unauthenticated({ error: "invalid_token", error_description: "No bearer token was sent" })

const malformed = new Unauthenticated({ error: "invalid_token", error_description: descriptions.MalformedToken })

/**
 * A Bearer header with something after the scheme that `bearerToken` does not take (a tab, a space or
 * a byte outside b64token): credentials were sent, so the answer carries `invalid_token` (RFC 6750
 * section 3.1 keeps the bare challenge for requests without any).
 */
const bearerScheme = /^Bearer[ \t]+[^ \t]/i

/** The answer for a verification failure. */
export const failureOf = (error: VerifyError, requiredScopes: ReadonlyArray<string>): AuthenticationFailure => {
  if (error._tag === "KeysUnavailable") {
    return new AuthenticationUnavailable({
      error: "temporarily_unavailable",
      error_description: descriptions[error._tag]
    })
  }
  if (error._tag === "MissingScopes") {
    return new InsufficientScope({
      error: "insufficient_scope",
      error_description: descriptions[error._tag],
      scope: requiredScopes.join(" ")
    })
  }
  return new Unauthenticated({
    error: "invalid_token",
    error_description: descriptions[isInvalidToken(error) ? error._tag : "MalformedToken"]
  })
}

/** A quoted-string for an auth-param: RFC 6750 allows printable ASCII without `"` and `\`. */
const quoted = (value: string) => `"${value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "")}"`

/**
 * The headers that go with an answer: the `WWW-Authenticate` challenge of RFC 6750 (with no error code
 * when no token was sent, as its section 3.1 asks), and a `Retry-After` on a 503.
 */
export const headersOf = (failure: AuthenticationFailure): Record<string, string> => {
  switch (failure._tag) {
    case "Unauthenticated":
      return failure.error_description === noToken.error_description
        ? { "www-authenticate": "Bearer" }
        : {
          "www-authenticate": `Bearer error="invalid_token", error_description=${quoted(failure.error_description)}`
        }
    case "InsufficientScope":
      return {
        "www-authenticate": `Bearer error="insufficient_scope", error_description=${
          quoted(failure.error_description)
        }, scope=${quoted(failure.scope)}`
      }
    case "AuthenticationUnavailable":
      return { "retry-after": "30" }
  }
}

// ---------------------------------------------------------------------------------------------------
// Authenticating a request

/** The token of an `Authorization: Bearer <token>` header; the scheme is matched without case. */
export const bearerToken = (authorization: string | undefined): Option.Option<Redacted.Redacted<string>> => {
  if (authorization === undefined) return Option.none()
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization)
  return match === null ? Option.none() : Option.some(Redacted.make(match[1]!))
}

export interface Requirements {
  readonly requiredScopes?: ReadonlyArray<string> | undefined
  readonly maxTokenAge?: Duration.DurationInput | undefined
}

/** The client of the request's bearer token, or the answer to give instead. */
export const authenticateRequest = (
  request: HttpServerRequest.HttpServerRequest,
  requirements: Requirements
): Effect.Effect<AuthenticatedClient, AuthenticationFailure, M2MTokenVerifier> =>
  Option.match(bearerToken(request.headers.authorization), {
    onNone: () => Effect.fail(bearerScheme.test(request.headers.authorization ?? "") ? malformed : noToken),
    onSome: (token) =>
      Effect.flatMap(M2MTokenVerifier, (verifier) =>
        Effect.mapError(
          verifier.authenticate(token, requirements),
          (error) => failureOf(error, requirements.requiredScopes ?? [])
        ))
  })

/** The JSON answer and headers for a failure, for apps without `HttpApi`. */
export const responseOf = (failure: AuthenticationFailure): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    {
      error: failure.error,
      error_description: failure.error_description,
      ...("scope" in failure ? { scope: failure.scope } : {})
    },
    {
      status: failure._tag === "Unauthenticated" ? 401 : failure._tag === "InsufficientScope" ? 403 : 503,
      headers: headersOf(failure)
    }
  )

/**
 * For apps on `HttpRouter` or a plain `HttpApp`: the app runs with the `CurrentClient` when the request
 * carries a token granting `requiredScopes`; otherwise it is answered 401, 403 or 503 and the app does
 * not run.
 *
 * ```ts
 * HttpRouter.get("/invoices", requireClient({ requiredScopes: ["read:invoices"] })(listInvoices))
 * ```
 */
export const requireClient = (requirements: Requirements = {}) =>
<E, R>(
  app: HttpApp.Default<E, R>
): HttpApp.Default<E, Exclude<R, CurrentClient> | M2MTokenVerifier | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) =>
      Effect.matchEffect(authenticateRequest(request, requirements), {
        onFailure: (failure) => Effect.succeed(responseOf(failure)),
        onSuccess: (client) => Effect.provideService(app, CurrentClient, client)
      })
  )

// ---------------------------------------------------------------------------------------------------
// HttpApi

/**
 * The bearer-security middleware for `HttpApi`: add it to a group or an endpoint
 * (`.middleware(M2MAuthentication)`), declare scopes with `RequiredScopes`, and provide
 * `M2MAuthentication.layer(api)`. Handlers read the caller with `yield* CurrentClient`.
 */
export class M2MAuthentication extends HttpApiMiddleware.Tag<M2MAuthentication>()(
  "@stytch-effect/http/M2MAuthentication",
  {
    failure: Schema.Union(Unauthenticated, InsufficientScope, AuthenticationUnavailable),
    provides: CurrentClient,
    security: { bearer: HttpApiSecurity.bearer }
  }
) {
  /**
   * The middleware for an api: the requirements of each endpoint are read from its annotations (and
   * its group's) once, here, and found per request by the route that matched. Give it the api that is
   * served: an endpoint it does not know is answered 500 (a defect naming the route), never served
   * without its scopes.
   */
  static readonly layer = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<Id, Groups, E, R>
  ): Layer.Layer<M2MAuthentication, never, M2MTokenVerifier> =>
    Layer.effect(
      M2MAuthentication,
      Effect.gen(function*() {
        const verifier = yield* M2MTokenVerifier
        const byRoute = requirementsByRoute(api)
        return {
          bearer: () =>
            Effect.gen(function*() {
              const request = yield* HttpServerRequest.HttpServerRequest
              const { route } = yield* HttpRouter.RouteContext
              const requirements = byRoute.get(`${route.method} ${route.path}`)
              // An endpoint of an api grown after this layer was made: serving it without its scopes
              // would be a silent bypass, so it is a defect (a 500) naming the route.
              if (requirements === undefined) {
                return yield* Effect.dieMessage(
                  `M2MAuthentication.layer was made for an api without ${route.method} ${route.path}: give it the api that is served`
                )
              }
              return yield* authenticateRequest(request, requirements).pipe(
                Effect.provideService(M2MTokenVerifier, verifier),
                Effect.tapError((failure) =>
                  HttpApp.appendPreResponseHandler((_, response) =>
                    Effect.succeed(HttpServerResponse.setHeaders(response, headersOf(failure)))
                  )
                )
              )
            })
        }
      })
    )
}

const requirementsByRoute = (api: HttpApi.HttpApi.Any): ReadonlyMap<string, Requirements> => {
  const byRoute = new Map<string, Requirements>()
  const { groups } = api as unknown as HttpApi.HttpApi.AnyWithProps
  for (const group of Object.values(groups)) {
    const groupScopes = Context.getOption(group.annotations, RequiredScopes).pipe(Option.getOrElse(() => []))
    const groupAge = Context.getOption(group.annotations, MaxTokenAge)
    for (const endpoint of Object.values(group.endpoints)) {
      const scopes = Context.getOption(endpoint.annotations, RequiredScopes).pipe(Option.getOrElse(() => []))
      const maxTokenAge = Option.orElse(Context.getOption(endpoint.annotations, MaxTokenAge), () => groupAge)
      byRoute.set(`${endpoint.method} ${endpoint.path}`, {
        requiredScopes: [...new Set([...groupScopes, ...scopes])],
        maxTokenAge: Option.getOrUndefined(maxTokenAge)
      })
    }
  }
  return byRoute
}
