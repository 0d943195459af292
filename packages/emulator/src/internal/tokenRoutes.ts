/**
 * The emulator's two public routes, served before (and without) the project's Basic authentication:
 * the token endpoint (`POST /v1/public/{project_id}/oauth2/token`) over the store's `M2MTokens`, and the
 * key set (`GET /v1/sessions/jwks/{project_id}`, and `/v1/b2b/sessions/jwks/{project_id}`) over its
 * `SigningKeys`.
 *
 * The token endpoint answers as Stytch's does, OAuth2-shaped (RFC 6749 section 5): successes with
 * `access_token`, `token_type`, `expires_in`, errors with `error`, `error_description`, `error_uri`,
 * always with `status_code` and `request_id`. It takes the client's credentials from a JSON or a form
 * body, or from HTTP Basic when the body has none (Ruby's and Python's SDKs send the project's Basic
 * credentials beside a body that holds the client's, so the body wins), form-urlencoded as RFC 6749
 * has them or as they are. A form that repeats a parameter is refused. The fault plan applies to both
 * routes, by the names `token` and `jwks`.
 */
import type { HttpServerRequest } from "@effect/platform"
import { HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { AnyApiError, M2MTokenRequest } from "@stytch-effect/core"
import { errorUrlOf, M2MTokens } from "@stytch-effect/core"
import { SigningKeys } from "@stytch-effect/memory"
import { Array as Arr, Effect, Redacted } from "effect"
import type { Faults } from "../Faults.js"
import type { ErrorAnswer } from "./answers.js"
import { internalServerError, methodNotAllowed, serverUnavailable } from "./answers.js"
import { decide, faultsFor } from "./faults.js"

export type PublicRouteName = "token" | "jwks"

export interface PublicRouteOptions {
  readonly projectId: string
  readonly faults: Faults.Service
  /** One draw for a fault decision. */
  readonly draw: Effect.Effect<number>
  /** The app's body reader: its size limit and its answers for a body too large or unreadable. */
  readonly readText: (
    request: HttpServerRequest.HttpServerRequest
  ) => Effect.Effect<string, { readonly answer: ErrorAnswer }>
}

const tokenPath = /^\/v1\/public\/([^/]+)\/oauth2\/token$/
// Stytch's B2B SDK clients fetch the same keys from the B2B route, so both are served.
const jwksPath = /^\/v1\/(?:b2b\/)?sessions\/jwks\/([^/]+)$/

/** An error of the token endpoint, in OAuth2's words. */
interface OAuth2Error {
  readonly status_code: number
  readonly error: string
  readonly error_description: string
}

const oauth2Error = (status_code: number, error: string, error_description: string): OAuth2Error => ({
  status_code,
  error,
  error_description
})

const respondOAuth2 = (
  answer: OAuth2Error & { readonly headers?: Readonly<Record<string, string>> },
  requestId: string
) =>
  HttpServerResponse.unsafeJson({
    status_code: answer.status_code,
    request_id: requestId,
    error: answer.error,
    error_description: answer.error_description,
    error_uri: errorUrlOf(answer.status_code, answer.error)
  }, { status: answer.status_code, headers: { ...answer.headers, "cache-control": "no-store" } })

/** An app answer in OAuth2's words: a body the app cannot read (its `bad_request`) is OAuth2's `invalid_request`. */
const asOAuth2 = (answer: ErrorAnswer): OAuth2Error & { readonly headers?: Readonly<Record<string, string>> } => ({
  ...oauth2Error(
    answer.status_code,
    answer.error_type === "bad_request" ? "invalid_request" : answer.error_type,
    answer.error_message
  ),
  ...(answer.headers ? { headers: answer.headers } : {})
})

/** A management-shaped answer, for the key set, which is not an OAuth2 endpoint. */
const respondStytch = (answer: ErrorAnswer, requestId: string) =>
  HttpServerResponse.unsafeJson({
    status_code: answer.status_code,
    request_id: requestId,
    error_type: answer.error_type,
    error_message: answer.error_message,
    error_url: errorUrlOf(answer.status_code, answer.error_type)
  }, { status: answer.status_code, ...(answer.headers ? { headers: answer.headers } : {}) })

/** Stytch's answer for a project id it does not know. */
const projectNotFound: ErrorAnswer = {
  status_code: 404,
  error_type: "project_not_found",
  error_message: "The project requested could not be found."
}

class Rejected {
  readonly _tag = "Rejected"
  constructor(readonly answer: OAuth2Error) {}
}

const reject = (status: number, error: string, description: string) =>
  Effect.fail(new Rejected(oauth2Error(status, error, description)))

const decodeSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

const mediaTypeOf = (contentType: string | undefined) => contentType?.split(";", 1)[0]?.trim().toLowerCase() ?? ""

/** The body's fields as strings, from JSON or a form; what is neither is refused. */
const parseFields = (
  text: string,
  contentType: string | undefined
): Effect.Effect<Record<string, string>, Rejected> => {
  if (text.trim() === "") return Effect.succeed({})
  const mediaType = mediaTypeOf(contentType)
  if (mediaType === "application/x-www-form-urlencoded") {
    const params = Array.from(new URLSearchParams(text))
    // RFC 6749 (3.2): no parameter twice. Taking either value would let two readers see two requests.
    if (new Set(params.map(([name]) => name)).size < params.length) {
      return reject(400, "invalid_request", "Each parameter may be given only once.")
    }
    return Effect.succeed(Object.fromEntries(params))
  }
  if (mediaType !== "application/json") {
    return reject(
      415,
      "invalid_request",
      "The token request must be application/x-www-form-urlencoded or application/json."
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // The parser's message quotes the body, which holds the secret.
    return reject(400, "invalid_request", "The request body is not valid JSON.")
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return reject(400, "invalid_request", "The request body must be a JSON object.")
  }
  const fields: Record<string, string> = {}
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== "string") return reject(400, "invalid_request", `The field ${key} must be a string.`)
    fields[key] = value
  }
  return Effect.succeed(fields)
}

interface ClientPair {
  readonly client_id: string | undefined
  readonly client_secret: string | undefined
}

/** A form-urlencoded value decoded (`+` is a space); `undefined` where its `%` escapes are broken. */
const formDecoded = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

/**
 * The `client_id:client_secret` pairs an HTTP Basic header may stand for. RFC 6749 (2.3.1) has clients
 * form-urlencode both parts before joining them, so the decoded pair comes first; the pair as sent
 * follows where it differs, for clients that skip the encoding (a custom secret may hold `+` or `%`).
 * The first colon splits: an encoded pair holds no other, and the store's client ids hold none.
 */
const basicCredentials = (authorization: string | undefined): ReadonlyArray<ClientPair> => {
  const match = authorization === undefined ? null : /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization)
  if (match === null) return []
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  if (colon < 0) return []
  const asSent = { client_id: decoded.slice(0, colon), client_secret: decoded.slice(colon + 1) }
  const client_id = formDecoded(asSent.client_id)
  const client_secret = formDecoded(asSent.client_secret)
  const encoded = client_id !== undefined && client_secret !== undefined &&
    (client_id !== asSent.client_id || client_secret !== asSent.client_secret)
  return encoded ? [{ client_id, client_secret }, asSent] : [asSent]
}

/**
 * The token requests a body and header stand for, to be tried in order (see `basicCredentials`), or the
 * OAuth2 error they earn.
 */
const tokenRequestsOf = (
  fields: Record<string, string>,
  authorization: string | undefined
): Effect.Effect<Arr.NonEmptyReadonlyArray<M2MTokenRequest>, Rejected> => {
  const { client_id, client_secret, grant_type, scope, ...extra } = fields
  if (grant_type === undefined) return reject(400, "invalid_request", "grant_type is required.")
  if (grant_type !== "client_credentials") {
    return reject(400, "unsupported_grant_type", "grant_type must be client_credentials.")
  }
  const basic = client_secret === undefined ? basicCredentials(authorization) : []
  // A body with a secret wins (Ruby and Python send the project's Basic beside it); a body's client_id
  // beside the client's own Basic (RFC 6749 allows it) must name the same client.
  const pairs = basic.length === 0
    ? [{ client_id, client_secret }]
    : basic.filter((pair) => client_id === undefined || pair.client_id === client_id)
  const scopes = scope === undefined ? [] : scope.split(" ").filter((part) => part.length > 0)
  const requests = pairs.flatMap((pair) =>
    pair.client_id === undefined || pair.client_secret === undefined ? [] : [{
      client_id: pair.client_id,
      client_secret: Redacted.make(pair.client_secret),
      ...(scopes.length === 0 ? {} : { scopes }),
      ...(Object.keys(extra).length === 0 ? {} : { extra })
    }]
  )
  return Arr.isNonEmptyReadonlyArray(requests)
    ? Effect.succeed(requests)
    : reject(400, "invalid_client", "The client_id and client_secret are required, in the body or as HTTP Basic.")
}

/** What the token service's failure answers; never its message, which could name what was sent. */
const answerOfTokenError = (error: { readonly _tag: string }): Effect.Effect<OAuth2Error> => {
  if (error._tag === "InvalidRequest") {
    const { field, rule } = error as unknown as { readonly field: string; readonly rule: string }
    // A secret the store could never have issued authenticates no client.
    return Effect.succeed(
      field === "client_id" || field === "client_secret"
        ? oauth2Error(400, "invalid_client", "Client authentication failed.")
        : oauth2Error(
          400,
          field === "scopes" || field.startsWith("scopes[") ? "invalid_scope" : "invalid_request",
          `${field} ${rule}`
        )
    )
  }
  if (error._tag === "TransportError" || error._tag === "MalformedResponse") return Effect.die(error)
  const api = error as AnyApiError
  return Effect.succeed(oauth2Error(api.status_code, api.error_type, api.error_message))
}

/**
 * Which public route a request is for, with its handler; `undefined` for the management routes, which
 * go through authentication and the router.
 */
export const makePublicRoutes = (options: PublicRouteOptions) =>
  Effect.gen(function*() {
    const tokens = yield* M2MTokens
    const keys = yield* SigningKeys

    /** The route's faults before it runs: an answer that replaces it, and whether to answer 500 after it ran. */
    const withFaults = <E>(
      route: PublicRouteName,
      request: HttpServerRequest.HttpServerRequest,
      respond: (answer: ErrorAnswer) => HttpServerResponse.HttpServerResponse,
      run: Effect.Effect<HttpServerResponse.HttpServerResponse, E>
    ) =>
      Effect.gen(function*() {
        const faults = faultsFor(yield* options.faults.plan, route)
        if (faults.latency) yield* Effect.sleep(faults.latency)
        const decision = faults.drop || faults.fail || faults.commitThenFail
          ? decide(faults, yield* options.draw)
          : { _tag: "Serve" as const }
        const failure = (status: 500 | 503) => respond(status === 503 ? serverUnavailable : internalServerError)
        if (decision._tag === "Drop" && !decision.afterCommit) return yield* dropConnection(request)
        if (decision._tag === "Fail") return failure(decision.status)
        const response = yield* run
        if (decision._tag === "Drop") return yield* dropConnection(request)
        if (decision._tag === "CommitThenFail") return failure(decision.status)
        return response
      })

    const token = (request: HttpServerRequest.HttpServerRequest, requestId: string) =>
      withFaults(
        "token",
        request,
        (answer) => respondOAuth2(asOAuth2(answer), requestId),
        Effect.gen(function*() {
          const text = yield* Effect.mapError(options.readText(request), ({ answer }) => new Rejected(asOAuth2(answer)))
          const fields = yield* parseFields(text, request.headers["content-type"])
          const [first, ...others] = yield* tokenRequestsOf(fields, request.headers["authorization"])
          const issue = (tokenRequest: M2MTokenRequest) =>
            tokens.token(tokenRequest).pipe(
              Effect.catchAll((error) =>
                Effect.flatMap(answerOfTokenError(error), (answer) => Effect.fail(new Rejected(answer)))
              )
            )
          // A later reading of the credentials is tried only where the one before it opens no client.
          const issued = yield* others.reduce(
            (attempt, next) =>
              Effect.catchIf(attempt, ({ answer }) => answer.error === "invalid_client", () => issue(next)),
            issue(first)
          )
          return HttpServerResponse.unsafeJson({
            status_code: 200,
            request_id: requestId,
            access_token: Redacted.value(issued.access_token),
            token_type: issued.token_type,
            expires_in: issued.expires_in
          }, { headers: { "cache-control": "no-store", pragma: "no-cache" } })
        }).pipe(Effect.catchTag("Rejected", ({ answer }) => Effect.succeed(respondOAuth2(answer, requestId))))
      )

    const jwks = (request: HttpServerRequest.HttpServerRequest, requestId: string) =>
      withFaults(
        "jwks",
        request,
        (answer) => respondStytch(answer, requestId),
        Effect.map(keys.jwks, ({ keys }) =>
          HttpServerResponse.unsafeJson({ keys, request_id: requestId, status_code: 200 }, {
            // What Stytch is reported to send: a verifier may keep the keys for 15 minutes.
            headers: { "cache-control": "public, max-age=900" }
          }))
      )

    /** The handler for a public route's path, or `undefined` when the path is not one. */
    return (rawPath: string):
      | ((request: HttpServerRequest.HttpServerRequest, requestId: string) => Effect.Effect<
        HttpServerResponse.HttpServerResponse
      >)
      | undefined =>
    {
      const tokenMatch = tokenPath.exec(rawPath)
      const jwksMatch = tokenMatch === null ? jwksPath.exec(rawPath) : null
      const match = tokenMatch ?? jwksMatch
      if (match === null) return undefined
      const [method, serve, respond] = tokenMatch !== null
        ? [
          "POST",
          token,
          (answer: ErrorAnswer, requestId: string) => respondOAuth2(asOAuth2(answer), requestId)
        ] as const
        : ["GET", jwks, respondStytch] as const
      return (request, requestId) => {
        // HTTP has every GET resource answer HEAD too (Node leaves the body out), as the management GETs do.
        const allowed = request.method === method || (method === "GET" && request.method === "HEAD")
        if (!allowed) return Effect.succeed(respond(methodNotAllowed([method]), requestId))
        if (decodeSegment(match[1]!) !== options.projectId) return Effect.succeed(respond(projectNotFound, requestId))
        return serve(request, requestId)
      }
    }
  })

/** Closes the connection without an answer, waiting for the server to interrupt the request's fiber. */
const dropConnection = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.zipRight(
    Effect.sync(() => NodeHttpServerRequest.toServerResponse(request).destroy()),
    Effect.never
  )
