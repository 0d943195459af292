/**
 * Access tokens for M2M clients: the token endpoint's request and answer, the claims of the JWT it
 * issues, the key set that verifies it, and the `M2MTokens` service that the http and memory layers
 * implement and the token cache wraps.
 *
 * A token is `Redacted` wherever it is held. What a caller may read without unwrapping it (the client
 * id, the scopes, when it was issued and when it expires) is read from the JWT's own claims, so it is
 * what the token says, not what was asked for.
 */
import { Context, DateTime, Effect, Either, Encoding, ParseResult, Redacted, Schema } from "effect"
import { validateRequest } from "./M2MClients.js"
import type * as E from "./M2MError.js"
import { ClientInactive, InvalidClientCredentials, InvalidGrant, ScopeNotGranted } from "./M2MError.js"
import type { Operation } from "./Operations.js"
import { ClientId, CustomClientSecret, Scopes } from "./Operations.js"

/** The token endpoint, on the same base URL as the management API. */
export const tokenRoute = "/v1/public/:project_id/oauth2/token"

/** The project's key set (JWKS); it needs no authentication. */
export const jwksRoute = "/v1/sessions/jwks/:project_id"

/** A route with the project id put in, percent-encoded. */
export const projectPath = (route: string, projectId: string): string =>
  route.replace(":project_id", encodeURIComponent(projectId))

/** How long Stytch's tokens live: one hour. */
export const tokenLifetimeSeconds = 3600

/** The body fields the token endpoint reserves, which `extra` may not set. */
const reservedTokenFields: ReadonlySet<string> = new Set(["client_id", "client_secret", "grant_type", "scope"])

export const M2MTokenRequest = Schema.Struct({
  client_id: ClientId,
  /** The client's own secret (current, or during a rotation the next one); never the project secret. */
  client_secret: CustomClientSecret,
  /**
   * The scopes wanted, each one the client holds. Left out or empty: every scope the client holds
   * (an empty list is left out of the request, as `scope: ""` means nothing documented).
   */
  scopes: Schema.optional(Scopes),
  /** Extra fields for the project's custom-claims template (`user_id`, say). */
  extra: Schema.optional(
    Schema.Record({ key: Schema.String, value: Schema.String }).pipe(
      Schema.filter((extra) => Object.keys(extra).every((key) => !reservedTokenFields.has(key)), {
        message: () => "must not set client_id, client_secret, grant_type or scope"
      })
    )
  )
})
export interface M2MTokenRequest extends Schema.Schema.Type<typeof M2MTokenRequest> {}

/** The token endpoint's answer as the wire carries it. */
export const M2MTokenAnswer = Schema.Struct({
  request_id: Schema.String,
  status_code: Schema.Int,
  access_token: Schema.Redacted(Schema.String),
  /** `"bearer"` in Stytch's reference, `"Bearer"` in one of its pages: compare without case. */
  token_type: Schema.String.pipe(
    Schema.filter((type) => type.toLowerCase() === "bearer", { message: () => "must be \"bearer\"" })
  ),
  /** Seconds, finite and not negative: a token "expiring" in -1 s or 1e400 s is no answer to cache. */
  expires_in: Schema.Number.pipe(Schema.finite(), Schema.nonNegative())
})
export type M2MTokenAnswer = typeof M2MTokenAnswer.Type

/** The token's audience: Stytch sends an array holding the project id; a lone string is read the same. */
const Audience = Schema.Union(Schema.String, Schema.Array(Schema.String))

/** The greatest distance from the epoch, in seconds, that a `Date` (and so a `DateTime`) can hold. */
export const maxNumericDate = 8.64e12

/**
 * A JWT NumericDate (seconds since the epoch), within what a `DateTime` holds: a token whose `exp` is
 * 1e300 is malformed, not a time to convert.
 */
export const NumericDate = Schema.Number.pipe(
  Schema.between(-maxNumericDate, maxNumericDate, {
    message: () => "must be seconds since the epoch that a date can hold"
  })
)

/**
 * The claims of an M2M access token. Other claims (the project's custom claims) are kept as they are.
 * `scope` is optional: a token without one holds no scopes.
 */
export const M2MTokenClaims = Schema.Struct(
  {
    sub: Schema.String,
    iss: Schema.String,
    aud: Audience,
    scope: Schema.optional(Schema.String),
    iat: NumericDate,
    nbf: Schema.optional(NumericDate),
    exp: NumericDate
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type M2MTokenClaims = typeof M2MTokenClaims.Type

/** The scopes of a `scope` claim: space-separated, empty parts dropped; none when absent or empty. */
export const scopesOfClaim = (scope: string | undefined): ReadonlyArray<string> =>
  scope === undefined ? [] : scope.split(/\s+/).filter((part) => part.length > 0)

const ClaimsFromJson = Schema.parseJson(M2MTokenClaims)
const decodeClaimsJson = Schema.decodeUnknownEither(ClaimsFromJson)

/**
 * The claims a JWT carries, read without checking its signature: for reading what a token says about
 * itself (its holder has it from the issuer), never for deciding whether to trust it. `Left` says, in
 * words that never quote the token, what is wrong with it.
 */
export const readClaims = (token: Redacted.Redacted<string>): Either.Either<M2MTokenClaims, string> => {
  const parts = Redacted.value(token).split(".")
  if (parts.length !== 3) return Either.left("the access token is not a JWT (three dot-separated parts)")
  return Encoding.decodeBase64UrlString(parts[1]!).pipe(
    Either.mapLeft(() => "the access token's claims are not base64url"),
    Either.flatMap((json) =>
      Either.mapLeft(decodeClaimsJson(json), (error) => {
        const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
        return issue === undefined || issue.path.length === 0
          ? "the access token's claims are not a JSON object"
          : `the access token's ${issue.path.join(".")} claim is ${issue._tag === "Missing" ? "missing" : "invalid"}`
      })
    )
  )
}

/**
 * An access token and what it says about itself. `access_token` is the JWT, `Redacted`: send it as
 * `Authorization: Bearer <token>`. The rest is read from the answer and the token's claims.
 */
export class M2MToken extends Schema.Class<M2MToken>("M2MToken")({
  request_id: Schema.String,
  status_code: Schema.Int,
  access_token: Schema.Redacted(Schema.String),
  token_type: Schema.String,
  /** Seconds the token lives from when it was issued, as the answer says. */
  expires_in: Schema.Number,
  /** The token's `sub`. */
  client_id: Schema.String,
  /** The token's `scope`, split: the scopes it grants. */
  scopes: Schema.Array(Schema.String),
  /** The token's `iat`. */
  issued_at: Schema.DateTimeUtcFromSelf,
  /** The token's `exp`: after this no verifier accepts it. */
  expires_at: Schema.DateTimeUtcFromSelf,
  /** Every claim the token carries, the project's custom claims included. */
  claims: M2MTokenClaims
}) {
  /** The token from the endpoint's answer, reading its claims; `Left` when the token is not a readable JWT. */
  static fromAnswer(answer: M2MTokenAnswer): Either.Either<M2MToken, string> {
    return Either.map(readClaims(answer.access_token), (claims) =>
      new M2MToken({
        ...answer,
        client_id: claims.sub,
        scopes: scopesOfClaim(claims.scope),
        issued_at: DateTime.unsafeMake(claims.iat * 1000),
        expires_at: DateTime.unsafeMake(claims.exp * 1000),
        claims
      }, { disableValidation: true }))
  }
}

/** One public key of the project's key set, as JWKS carries it; other members are kept. */
export const Jwk = Schema.Struct(
  {
    kty: Schema.String,
    kid: Schema.String,
    alg: Schema.optional(Schema.String),
    use: Schema.optional(Schema.String),
    key_ops: Schema.optional(Schema.Array(Schema.String)),
    n: Schema.optional(Schema.String),
    e: Schema.optional(Schema.String)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type Jwk = typeof Jwk.Type

/** The JWKS endpoint's answer. */
export const JwksAnswer = Schema.Struct({
  keys: Schema.Array(Jwk),
  request_id: Schema.optional(Schema.String),
  status_code: Schema.optional(Schema.Int)
})
export type JwksAnswer = typeof JwksAnswer.Type

/**
 * The token operation's descriptor, in the shape of the clients' (`Operations`). Its route holds
 * `:project_id` where the clients' hold `:client_id`; its errors are the OAuth2 ones.
 */
export const tokenOperation: Operation<
  "M2MTokens.token",
  M2MTokenRequest,
  typeof M2MTokenRequest.Encoded,
  M2MTokenAnswer,
  typeof M2MTokenAnswer.Encoded,
  typeof InvalidClientCredentials | typeof ScopeNotGranted | typeof ClientInactive | typeof InvalidGrant
> = {
  name: "M2MTokens.token",
  method: "POST",
  route: tokenRoute,
  request: M2MTokenRequest,
  response: M2MTokenAnswer,
  errors: [InvalidClientCredentials, ScopeNotGranted, ClientInactive, InvalidGrant]
}

export type TokenError =
  | E.InvalidClientCredentials
  | E.ScopeNotGranted
  | E.ClientInactive
  | E.InvalidGrant
  | E.CommonError

export declare namespace M2MTokens {
  export interface Service {
    /**
     * A new access token for a client, authenticated by the client's own id and secret. Changes
     * nothing on the server, so it is safe to repeat. Every call asks for a new token: provide
     * `M2MTokenCache` to reuse one until shortly before it expires.
     */
    readonly token: (request: M2MTokenRequest) => Effect.Effect<M2MToken, TokenError>
  }
}

/**
 * Builds the service from an implementation: every request is validated first (a bad one fails with
 * `InvalidRequest` and never reaches the implementation), and every call runs in a span named
 * `M2MTokens.token` carrying the client id (never the secret or the token).
 */
const make = (implementation: M2MTokens.Service): M2MTokens.Service => ({
  token: (request) =>
    Effect.suspend(() => validateRequest(tokenOperation, request)).pipe(
      Effect.flatMap(implementation.token),
      Effect.withSpan(tokenOperation.name, {
        kind: "client",
        captureStackTrace: false,
        attributes: typeof request?.client_id === "string" ? { "m2m.client_id": request.client_id } : {}
      })
    )
})

/** The token service's tag. Provide it with `@stytch-effect/http`'s or `@stytch-effect/memory`'s layer. */
export class M2MTokens extends Context.Tag("@stytch-effect/core/M2MTokens")<M2MTokens, M2MTokens.Service>() {
  static readonly make = make
}
