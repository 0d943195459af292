/**
 * Verifying M2M access tokens where they arrive: the `M2MTokenVerifier` service, the client it
 * authenticates, the tagged errors of every check, and Stytch's scope rules as pure functions.
 *
 * The verifier itself (`M2MTokenVerifier.make`) is generic over where the project's keys come from:
 * `@stytch-effect/http` fetches them over the app's `HttpClient`, `@stytch-effect/memory` reads its
 * store's signing keys. It checks the signature locally (RS256 only, the key chosen by `kid`), then the
 * claims, and keeps verified tokens in a bounded cache so a repeated token costs a hash and a few
 * comparisons. Every error says what is wrong with the token, never what the token is.
 */
import type { Duration, Redacted, Scope } from "effect"
import { Context, DateTime, Effect, Schema } from "effect"
import * as internal from "./internal/verifier.js"
import type { JwksAnswer } from "./M2MTokens.js"

// ---------------------------------------------------------------------------------------------------
// Scopes

/**
 * A scope read as Stytch's SDKs read it: `action:resource`, split at the first `:` only, so the whole
 * rest is the resource (`read:users:admin` is the action `read` on `users:admin`); a bare `action` has
 * no resource.
 */
export const parseScope = (scope: string): { readonly action: string; readonly resource: string | undefined } => {
  const colon = scope.indexOf(":")
  return colon === -1
    ? { action: scope, resource: undefined }
    : { action: scope.slice(0, colon), resource: scope.slice(colon + 1) }
}

/**
 * Whether one granted scope satisfies one required scope: the same scope; or the same action with
 * the granted resource `*`, which stands for any resource of that action (and for none: `read:*`
 * grants a bare `read`, as in Stytch's SDKs). Unlike the Node and Ruby SDKs nothing is truncated, so
 * `read:users` does not satisfy `read:users:admin`; a granted `*` alone is a bare action named `*` and
 * satisfies only a required `*`.
 */
export const scopeSatisfies = (granted: string, required: string): boolean => {
  if (granted === required) return true
  const grant = parseScope(granted)
  if (grant.resource !== "*") return false
  return parseScope(required).action === grant.action
}

/** The required scopes that none of the granted ones satisfies, in the order they were required. */
export const missingScopes = (
  granted: ReadonlyArray<string>,
  required: ReadonlyArray<string>
): ReadonlyArray<string> => required.filter((scope) => !granted.some((grant) => scopeSatisfies(grant, scope)))

/** Whether the granted scopes satisfy every required one. */
export const hasScopes = (granted: ReadonlyArray<string>, required: ReadonlyArray<string>): boolean =>
  missingScopes(granted, required).length === 0

// ---------------------------------------------------------------------------------------------------
// The authenticated client

/** The client a verified token speaks for: what its claims say, checked. */
export class AuthenticatedClient extends Schema.Class<AuthenticatedClient>("AuthenticatedClient")({
  /** The token's `sub`. */
  client_id: Schema.String,
  /** The token's `scope`, split; none when the claim is absent or empty. */
  scopes: Schema.Array(Schema.String),
  /** Every claim besides the registered ones and `scope`: the project's custom claims. */
  custom_claims: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** The token's `iat`. */
  issued_at: Schema.DateTimeUtcFromSelf,
  /** The token's `exp`. */
  expires_at: Schema.DateTimeUtcFromSelf
}) {}

/** The client authenticated for the request being handled, provided by the http middlewares. */
export class CurrentClient extends Context.Tag("@stytch-effect/core/CurrentClient")<
  CurrentClient,
  AuthenticatedClient
>() {}

// ---------------------------------------------------------------------------------------------------
// Errors

/** Not a JWT this verifier can read: not three parts, bad base64url or JSON, no `kid`, not RS256, a bad claim. */
export class MalformedToken extends Schema.TaggedError<MalformedToken>("@stytch-effect/core/MalformedToken")(
  "MalformedToken",
  { reason: Schema.String }
) {
  override get message() {
    return `malformed token: ${this.reason}`
  }
}

/** The signature does not verify with the key its `kid` names. */
export class BadSignature extends Schema.TaggedError<BadSignature>("@stytch-effect/core/BadSignature")(
  "BadSignature",
  { kid: Schema.String }
) {
  override get message() {
    return `the token's signature does not verify with key ${this.kid}`
  }
}

/** The `kid` is not in the project's key set, even after refetching it (at most once per cooldown). */
export class UnknownSigningKey extends Schema.TaggedError<UnknownSigningKey>("@stytch-effect/core/UnknownSigningKey")(
  "UnknownSigningKey",
  { kid: Schema.String }
) {
  override get message() {
    return `the token is signed with key ${this.kid}, which is not in the project's key set`
  }
}

export class TokenExpired extends Schema.TaggedError<TokenExpired>("@stytch-effect/core/TokenExpired")(
  "TokenExpired",
  { expired_at: Schema.DateTimeUtcFromSelf }
) {
  override get message() {
    return `the token expired at ${DateTime.formatIso(this.expired_at)}`
  }
}

/** `nbf` (or `iat`) is later than now, beyond the clock tolerance. */
export class TokenNotYetValid extends Schema.TaggedError<TokenNotYetValid>("@stytch-effect/core/TokenNotYetValid")(
  "TokenNotYetValid",
  { valid_from: Schema.DateTimeUtcFromSelf }
) {
  override get message() {
    return `the token is not valid before ${DateTime.formatIso(this.valid_from)}`
  }
}

/** Issued longer ago than the call's `maxTokenAge` allows. */
export class TokenTooOld extends Schema.TaggedError<TokenTooOld>("@stytch-effect/core/TokenTooOld")(
  "TokenTooOld",
  { issued_at: Schema.DateTimeUtcFromSelf, max_age_millis: Schema.Number }
) {
  override get message() {
    return `the token was issued at ${DateTime.formatIso(this.issued_at)}, more than ${this.max_age_millis} ms ago`
  }
}

export class WrongIssuer extends Schema.TaggedError<WrongIssuer>("@stytch-effect/core/WrongIssuer")(
  "WrongIssuer",
  { issuer: Schema.String, expected: Schema.Array(Schema.String) }
) {
  override get message() {
    return `the token's issuer ${JSON.stringify(this.issuer)} is not one of ${this.expected.join(", ")}`
  }
}

export class WrongAudience extends Schema.TaggedError<WrongAudience>("@stytch-effect/core/WrongAudience")(
  "WrongAudience",
  { audience: Schema.Array(Schema.String), expected: Schema.String }
) {
  override get message() {
    return `the token's audience does not hold the project ${this.expected}`
  }
}

/** A valid token of the project that is not an M2M access token: a session JWT, say. */
export class NotAnM2MToken extends Schema.TaggedError<NotAnM2MToken>("@stytch-effect/core/NotAnM2MToken")(
  "NotAnM2MToken",
  { reason: Schema.String }
) {
  override get message() {
    return `not an M2M access token: ${this.reason}`
  }
}

/** A valid token without every required scope; the client is known, it is not allowed (HTTP 403). */
export class MissingScopes extends Schema.TaggedError<MissingScopes>("@stytch-effect/core/MissingScopes")(
  "MissingScopes",
  {
    client_id: Schema.String,
    required: Schema.Array(Schema.String),
    granted: Schema.Array(Schema.String),
    missing: Schema.Array(Schema.String)
  }
) {
  override get message() {
    return `client ${this.client_id} lacks ${this.missing.join(" ")} (granted: ${this.granted.join(" ") || "none"})`
  }
}

/**
 * The project's keys could not be had: never fetched successfully, or the last good ones are older
 * than the verifier serves through an outage. Not an invalid token: answer 503, not 401.
 */
export class KeysUnavailable extends Schema.TaggedError<KeysUnavailable>("@stytch-effect/core/KeysUnavailable")(
  "KeysUnavailable",
  { reason: Schema.String }
) {
  override get message() {
    return `the project's signing keys are unavailable: ${this.reason}`
  }
}

/** Every way a token itself is not acceptable: an HTTP API answers these with 401 `invalid_token`. */
export type InvalidToken =
  | MalformedToken
  | BadSignature
  | UnknownSigningKey
  | TokenExpired
  | TokenNotYetValid
  | TokenTooOld
  | WrongIssuer
  | WrongAudience
  | NotAnM2MToken

const invalidTokenTags: ReadonlySet<string> = new Set([
  "MalformedToken",
  "BadSignature",
  "UnknownSigningKey",
  "TokenExpired",
  "TokenNotYetValid",
  "TokenTooOld",
  "WrongIssuer",
  "WrongAudience",
  "NotAnM2MToken"
])

/** Whether an error is one of `InvalidToken`'s. */
export const isInvalidToken = (error: VerifyError): error is InvalidToken => invalidTokenTags.has(error._tag)

/** What `authenticate` can fail with: an invalid token (401), missing scopes (403), or no keys (503). */
export type VerifyError = InvalidToken | MissingScopes | KeysUnavailable

// ---------------------------------------------------------------------------------------------------
// The service

export interface AuthenticateOptions {
  /** Scopes the token must grant, each by `scopeSatisfies`. Default: none. */
  readonly requiredScopes?: ReadonlyArray<string> | undefined
  /**
   * The longest time since the token's `iat`, plus the clock tolerance. Stytch does not revoke tokens
   * (deactivating a client only stops new ones), so this is the lever for sensitive routes. `0` means
   * what it says, a token issued no longer ago than the clock tolerance; it never turns the check off
   * (leave the option out for that). Default: no limit beyond `exp`.
   */
  readonly maxTokenAge?: Duration.DurationInput | undefined
  /** Allowed clock skew for `exp`, `nbf`, `iat` and `maxTokenAge`. Default: the verifier's (5 seconds). */
  readonly clockTolerance?: Duration.DurationInput | undefined
}

export declare namespace M2MTokenVerifier {
  export interface Service {
    /**
     * The client a token speaks for, once its signature and claims check out and it grants the
     * required scopes. Once the keys are warm, this never waits on the network, except for a `kid` not
     * yet seen (at most one fetch per cooldown, shared by every verification waiting on it).
     */
    readonly authenticate: (
      token: Redacted.Redacted<string>,
      options?: AuthenticateOptions
    ) => Effect.Effect<AuthenticatedClient, VerifyError>
  }

  /** Where the project's key set comes from, fetched when the verifier needs it. */
  export type KeySource = Effect.Effect<JwksAnswer, KeysUnavailable>

  export interface Options {
    readonly projectId: string
    /** Issuers accepted besides `stytch.com/{projectId}`: a custom domain's base URL, no trailing slash. */
    readonly issuers?: ReadonlyArray<string> | undefined
    /** Fetches the key set. Without it only `keys` are used, and an unknown `kid` is final. */
    readonly fetchKeys?: KeySource | undefined
    /** A key set to start with (tests, cold starts); the first fetch then waits for `refreshInterval`. */
    readonly keys?: JwksAnswer | undefined
    /** The default clock tolerance. Default 5 seconds: Stytch sets `nbf` equal to `iat`. */
    readonly clockTolerance?: Duration.DurationInput | undefined
    /**
     * How often the keys are refetched in the background. Default 5 minutes (Stytch says 15);
     * `Duration.infinity` for never. On the `TestClock`, set the time before making the verifier:
     * moving it years ahead runs every refresh in between.
     */
    readonly refreshInterval?: Duration.DurationInput | undefined
    /** The least time between fetches caused by an unknown `kid` or a failed fetch. Default 30 seconds. */
    readonly cooldown?: Duration.DurationInput | undefined
    /**
     * How long the last good keys keep serving after the last successful fetch, through an outage.
     * Default 24 hours: Stytch serves an old key for a month after a rotation. Cached tokens are held to
     * it too; keys given with no `fetchKeys` never age.
     */
    readonly maxKeysAge?: Duration.DurationInput | undefined
    /**
     * How many verified tokens to keep. Default 10,000; 0 turns the cache off. A cached token is served
     * only while the key that verified it is still in the key set and usable.
     */
    readonly cacheSize?: number | undefined
  }
}

/**
 * The verifier over a key source. The scope holds the background refresh; the first fetch starts at
 * once (unless `keys` are given), so the first verification waits at most for that one fetch.
 */
const make = (options: M2MTokenVerifier.Options): Effect.Effect<M2MTokenVerifier.Service, never, Scope.Scope> =>
  internal.make(options)

/** The token verifier's tag. Provide it with `@stytch-effect/http`'s or `@stytch-effect/memory`'s layer. */
export class M2MTokenVerifier extends Context.Tag("@stytch-effect/core/M2MTokenVerifier")<
  M2MTokenVerifier,
  M2MTokenVerifier.Service
>() {
  static readonly make = make
}
