/**
 * The verifier behind `M2MTokenVerifier.make`: a key cache with one fetch in flight at most, a
 * background refresh and a bounded outage allowance; jose to import the keys and `./jws.js` (jose's
 * checks, `node:crypto`'s synchronous RSA verify) for the signature; and a bounded cache of verified
 * tokens that is re-checked against each call's options and the current key set.
 *
 * The caches are plain mutable state on purpose: each read and write happens between two yields of
 * one fiber, so nothing interleaves, and the warm path (a cached token) stays a hash, a `Map` lookup
 * and a few comparisons.
 */
import type { Scope } from "effect"
import {
  DateTime,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberId,
  ParseResult,
  Redacted,
  Schema
} from "effect"
import { importJWK } from "jose"
import type { JWK } from "jose"
import { hash, KeyObject } from "node:crypto"
import type { Jwk, JwksAnswer } from "../M2MTokens.js"
import { M2MTokenClaims, maxNumericDate, scopesOfClaim } from "../M2MTokens.js"
import type { AuthenticateOptions, InvalidToken, M2MTokenVerifier, VerifyError } from "../M2MTokenVerifier.js"
import {
  AuthenticatedClient,
  BadSignature,
  KeysUnavailable,
  MalformedToken,
  MissingScopes,
  missingScopes,
  NotAnM2MToken,
  TokenExpired,
  TokenNotYetValid,
  TokenTooOld,
  UnknownSigningKey,
  WrongAudience,
  WrongIssuer
} from "../M2MTokenVerifier.js"
import { isRs256Key, parseCompact, verifySignature } from "./jws.js"

/** Stytch sets `nbf` equal to `iat`, so a verifier whose clock runs a little behind needs some slack. */
export const defaultClockTolerance = Duration.seconds(5)

/** The claim Stytch's session JWTs carry and its M2M tokens do not. */
const sessionClaim = "https://stytch.com/session"

/** The subjects of session JWTs: Stytch's user and member ids. */
const sessionSubject = /^(user|member)-(test|live)-/

const registeredClaims: ReadonlySet<string> = new Set(["sub", "iss", "aud", "scope", "iat", "nbf", "exp", "jti"])

// ---------------------------------------------------------------------------------------------------
// Keys

/** Every key under its `kid`: a key set that names two under one `kid` is served both, in order. */
type KeysById = ReadonlyMap<string, ReadonlyArray<KeyObject>>

/** A JWK this verifier would verify with: RSA, for signatures, RS256 or unspecified. */
const isSigningKey = (jwk: Jwk): boolean =>
  jwk.kty === "RSA" && (jwk.alg === undefined || jwk.alg === "RS256") && jwk.use !== "enc" &&
  (jwk.key_ops === undefined || jwk.key_ops.includes("verify"))

/**
 * The key set's RS256 keys, imported; a key that does not import, or is shorter than 2048 bits, is
 * left out. None at all is a failure.
 */
const importKeys = (answer: JwksAnswer): Effect.Effect<KeysById, KeysUnavailable> =>
  Effect.promise(async () => {
    const imported = await Promise.all(
      answer.keys.filter(isSigningKey).map((jwk) =>
        importJWK({ ...jwk } as unknown as JWK, "RS256").then(
          // jose imports a JWK as a `KeyObject` on Node.
          (key) => key instanceof KeyObject && isRs256Key(key) ? [jwk.kid, key] as const : undefined,
          () => undefined
        )
      )
    )
    const keys = new Map<string, Array<KeyObject>>()
    for (const entry of imported) {
      if (entry === undefined) continue
      const [kid, key] = entry
      const under = keys.get(kid) ?? []
      // The same key listed twice is one key: a bad signature is checked against it once.
      if (!under.some((was) => was.equals(key))) keys.set(kid, [...under, key])
    }
    return keys as KeysById
  }).pipe(
    Effect.filterOrFail(
      (keys) => keys.size > 0,
      () => new KeysUnavailable({ reason: "the key set holds no usable RS256 key" })
    )
  )

interface KeyState {
  keys: KeysById | undefined
  /** When the keys were last fetched successfully (or given), in epoch millis. */
  fetchedAt: number
  /** When the last fetch started, for the cooldown. */
  attemptedAt: number
  /** Why the last fetch failed, while the last one did. */
  failure: KeysUnavailable | undefined
  inflight: Deferred.Deferred<void> | undefined
}

// ---------------------------------------------------------------------------------------------------
// Tokens

/** What a token's signature and fixed claims established; the time and scope checks run on every call. */
interface Verified {
  readonly client: AuthenticatedClient
  /** The key that verified it: a cached token is served only while the key set still holds this key. */
  readonly kid: string
  readonly key: KeyObject
  readonly issuedAt: number
  readonly notBefore: number | undefined
  readonly expiresAt: number
}

const decodeClaims = Schema.decodeUnknownEither(M2MTokenClaims)

const claimsProblem = (error: ParseResult.ParseError): string => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  return issue === undefined || issue.path.length === 0
    ? "the claims are not a JSON object"
    : `the ${issue.path.join(".")} claim is ${issue._tag === "Missing" ? "missing" : "invalid"}`
}

const isString = (value: unknown): value is string => typeof value === "string"
const isOptional = (value: unknown, is: (value: unknown) => boolean): boolean => value === undefined || is(value)
/** `NumericDate`'s check: a number within what a `DateTime` holds (`NaN` fails both comparisons). */
const isNumericDate = (value: unknown): value is number =>
  typeof value === "number" && value >= -maxNumericDate && value <= maxNumericDate

/**
 * Whether parsed JSON has the shape `M2MTokenClaims` accepts, checked by hand: `Schema`'s decode of
 * that open record costs about 4 µs, a tenth of a fresh verification (`packages/bench/src/verify.ts`),
 * and would copy every claim. It accepts nothing the schema refuses (`claims.test.ts` holds the two
 * to one table); what it refuses goes through the schema, so the error stays the schema's.
 */
export const isClaims = (value: unknown): value is M2MTokenClaims => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const claims = value as Record<string, unknown>
  const aud = claims["aud"]
  return isString(claims["sub"]) && isString(claims["iss"]) &&
    (isString(aud) || (Array.isArray(aud) && aud.every(isString))) &&
    isOptional(claims["scope"], isString) && isNumericDate(claims["iat"]) &&
    isOptional(claims["nbf"], isNumericDate) && isNumericDate(claims["exp"])
}

/** The claims of a payload, or what is wrong with them. */
const readClaims = (json: string): Either.Either<M2MTokenClaims, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return Either.left("the claims are not a JSON object")
  }
  if (isClaims(parsed)) return Either.right(parsed)
  return Either.mapLeft(decodeClaims(parsed), claimsProblem)
}

const millis = (input: Duration.DurationInput): number => Duration.toMillis(Duration.decode(input))

export const make = (
  options: M2MTokenVerifier.Options
): Effect.Effect<M2MTokenVerifier.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const issuers = [`stytch.com/${options.projectId}`, ...(options.issuers ?? [])]
    const defaultTolerance = millis(options.clockTolerance ?? defaultClockTolerance)
    const refreshInterval = Duration.decode(options.refreshInterval ?? "5 minutes")
    const cooldown = Duration.decode(options.cooldown ?? "30 seconds")
    const cooldownMillis = Duration.toMillis(cooldown)
    const maxKeysAge = millis(options.maxKeysAge ?? "24 hours")
    const cacheSize = options.cacheSize ?? 10_000
    const fetchKeys = options.fetchKeys

    const state: KeyState = {
      keys: undefined,
      fetchedAt: Number.NEGATIVE_INFINITY,
      attemptedAt: Number.NEGATIVE_INFINITY,
      failure: undefined,
      inflight: undefined
    }
    if (options.keys !== undefined) {
      const given = yield* Effect.either(importKeys(options.keys))
      if (Either.isRight(given)) {
        state.keys = given.right
        // With no source they are never refetched, so never too old: no outage for them to outlast.
        state.fetchedAt = fetchKeys === undefined
          ? Number.POSITIVE_INFINITY
          : yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      } else {
        // Why, until a fetch says otherwise: not "the key set has not been fetched yet".
        state.failure = given.left
      }
    }

    /**
     * Fetches the key set, or joins the fetch under way: however many verifications miss at once, one
     * request goes out. The fetch runs in the verifier's scope, so a caller that gives up does not
     * cancel it for the others. It never fails: the outcome is in `state`.
     */
    const refresh: Effect.Effect<void> = Effect.clockWith((clock) => {
      if (state.inflight !== undefined) return Deferred.await(state.inflight)
      if (fetchKeys === undefined) return Effect.void
      const done = Deferred.unsafeMake<void>(FiberId.none)
      state.inflight = done
      state.attemptedAt = clock.unsafeCurrentTimeMillis()
      const attempt = fetchKeys.pipe(
        Effect.flatMap(importKeys),
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.clockWith((clock) => {
            if (Exit.isSuccess(exit)) {
              state.keys = keepingKeys(state.keys, exit.value)
              state.fetchedAt = clock.unsafeCurrentTimeMillis()
              state.failure = undefined
            } else {
              const failure = Exit.causeOption(exit).pipe(
                (cause) => cause._tag === "Some" && cause.value._tag === "Fail" ? cause.value.error : undefined
              )
              state.failure = failure ?? new KeysUnavailable({ reason: "the key source failed unexpectedly" })
            }
            return Deferred.succeed(done, undefined)
          })
        )
      )
      // Settled however the attempt ends, even interrupted before it ran (its scope closing), so no
      // waiter is left waiting.
      const settle = Effect.suspend(() => {
        if (state.inflight === done) state.inflight = undefined
        return Deferred.succeed(done, undefined)
      })
      return Effect.forkIn(Effect.ensuring(attempt, settle), scope).pipe(
        Effect.flatMap((fiber) => Effect.raceFirst(Fiber.await(fiber), Deferred.await(done))),
        Effect.zipRight(settle)
      )
    })

    /** The fresh keys, with each one unchanged since `previous` kept as it was, so its cached tokens stay served. */
    const keepingKeys = (previous: KeysById | undefined, fresh: KeysById): KeysById => {
      if (previous === undefined) return fresh
      const kept = new Map<string, ReadonlyArray<KeyObject>>()
      for (const [kid, keys] of fresh) {
        const old = previous.get(kid) ?? []
        kept.set(kid, keys.map((key) => old.find((was) => was.equals(key)) ?? key))
      }
      return kept
    }

    /**
     * The keys, unless `maxKeysAge` old or older (so 0 is never, as the memory layer needs on a clock
     * that does not move); keys fetched since `since`, once this call fetched, are never too old for it.
     */
    const usableKeys = (now: number, since?: number): KeysById | undefined =>
      state.keys !== undefined &&
        (now - state.fetchedAt < maxKeysAge || (since !== undefined && state.fetchedAt >= since))
        ? state.keys
        : undefined

    const unavailable = (): KeysUnavailable =>
      state.failure ??
        new KeysUnavailable({
          reason: state.keys === undefined
            ? "the key set has not been fetched yet"
            : "the last good keys are too old to serve"
        })

    /** What the key state says about a `kid`, once any fetch worth waiting for is done. */
    const decide = (
      kid: string,
      now: number,
      since: number
    ): Either.Either<ReadonlyArray<KeyObject>, UnknownSigningKey | KeysUnavailable> => {
      const keys = usableKeys(now, since)
      if (keys === undefined) return Either.left(unavailable())
      const key = keys.get(kid)
      if (key !== undefined) return Either.right(key)
      // The key we could not fetch may be the one that signed it: no reason to call the token invalid.
      if (state.failure !== undefined) return Either.left(state.failure)
      return Either.left(new UnknownSigningKey({ kid }))
    }

    /**
     * The keys under a `kid`. Warm and known: at once. Otherwise (cold, unknown `kid`, keys too old) one
     * fetch, joined if one is under way, and started only if the last began a cooldown ago or more.
     */
    const keyFor = (kid: string): Effect.Effect<ReadonlyArray<KeyObject>, UnknownSigningKey | KeysUnavailable> =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const key = usableKeys(now)?.get(kid)
        if (key !== undefined) return Effect.succeed(key)
        // A last attempt in the future is a clock set back: its cooldown cannot be told, so it is over.
        const worthFetching = state.inflight !== undefined || now - state.attemptedAt >= cooldownMillis ||
          now < state.attemptedAt
        if (!worthFetching) return decide(kid, now, now)
        return Effect.zipRight(refresh, Effect.clockWith((clock) => decide(kid, clock.unsafeCurrentTimeMillis(), now)))
      })

    // The background refresh: at once when no keys were given, then every `refreshInterval`, or a
    // cooldown after a failure. Verifications never wait for it once the keys are warm.
    const nextRefresh = Effect.suspend(() => Effect.sleep(state.failure === undefined ? refreshInterval : cooldown))
    const refreshLoop = Effect.forever(Effect.zipRight(nextRefresh, refresh))
    if (fetchKeys !== undefined) {
      const loop = Duration.isFinite(refreshInterval) ? refreshLoop : Effect.void
      yield* Effect.forkIn(state.keys === undefined ? Effect.zipRight(refresh, loop) : loop, scope)
    }

    /**
     * The signature, then the claims that do not change with time or the call's options. Synchronous
     * once the key is at hand: see `./jws.js` for why the RSA verify runs on this thread.
     */
    const verifyToken = (token: string): Effect.Effect<Verified, InvalidToken | KeysUnavailable> =>
      Effect.suspend(() => {
        const parsed = parseCompact(token)
        if (Either.isLeft(parsed)) return new MalformedToken({ reason: parsed.left })
        const jws = parsed.right
        return Effect.flatMap(
          keyFor(jws.kid),
          (keys) => {
            const key = keys.find((key) => verifySignature(jws, key))
            return key !== undefined ? checkClaims(jws.payload, jws.kid, key) : new BadSignature({ kid: jws.kid })
          }
        )
      })

    const checkClaims = (json: string, kid: string, key: KeyObject): Either.Either<Verified, InvalidToken> => {
      const decoded = readClaims(json)
      if (Either.isLeft(decoded)) return Either.left(new MalformedToken({ reason: decoded.left }))
      const claims = decoded.right
      if (!issuers.includes(claims.iss)) {
        return Either.left(new WrongIssuer({ issuer: claims.iss, expected: issuers }))
      }
      const audience = typeof claims.aud === "string" ? [claims.aud] : claims.aud
      if (!audience.includes(options.projectId)) {
        return Either.left(new WrongAudience({ audience, expected: options.projectId }))
      }
      if (claims[sessionClaim] !== undefined) {
        return Either.left(new NotAnM2MToken({ reason: `it carries a session (${sessionClaim})` }))
      }
      if (sessionSubject.test(claims.sub)) {
        return Either.left(new NotAnM2MToken({ reason: "its subject is a user or a member, not a client" }))
      }
      // Defined, not assigned, so that a claim named `__proto__` is a claim like any other.
      const custom_claims: Record<string, unknown> = {}
      for (const name of Object.keys(claims)) {
        if (!registeredClaims.has(name)) {
          Object.defineProperty(custom_claims, name, {
            value: claims[name],
            enumerable: true,
            writable: true,
            configurable: true
          })
        }
      }
      return Either.right({
        client: new AuthenticatedClient({
          client_id: claims.sub,
          scopes: scopesOfClaim(claims.scope),
          custom_claims,
          issued_at: DateTime.unsafeMake(claims.iat * 1000),
          expires_at: DateTime.unsafeMake(claims.exp * 1000)
        }, { disableValidation: true }),
        kid,
        key,
        issuedAt: claims.iat * 1000,
        notBefore: claims.nbf === undefined ? undefined : claims.nbf * 1000,
        expiresAt: claims.exp * 1000
      })
    }

    /** The checks that depend on the time and the call's options; run on every call, cached or not. */
    const admit = (
      verified: Verified,
      now: number,
      call: AuthenticateOptions | undefined
    ): Either.Either<AuthenticatedClient, VerifyError> => {
      const tolerance = call?.clockTolerance === undefined ? defaultTolerance : millis(call.clockTolerance)
      if (now - tolerance >= verified.expiresAt) {
        return Either.left(new TokenExpired({ expired_at: verified.client.expires_at }))
      }
      const validFrom = Math.max(verified.notBefore ?? verified.issuedAt, verified.issuedAt)
      if (validFrom > now + tolerance) {
        return Either.left(new TokenNotYetValid({ valid_from: DateTime.unsafeMake(validFrom) }))
      }
      if (call?.maxTokenAge !== undefined) {
        const maxAge = millis(call.maxTokenAge)
        if (now - verified.issuedAt > maxAge + tolerance) {
          return Either.left(new TokenTooOld({ issued_at: verified.client.issued_at, max_age_millis: maxAge }))
        }
      }
      const required = call?.requiredScopes
      if (required !== undefined && required.length > 0) {
        const missing = missingScopes(verified.client.scopes, required)
        if (missing.length > 0) {
          return Either.left(
            new MissingScopes({
              client_id: verified.client.client_id,
              required,
              granted: verified.client.scopes,
              missing
            })
          )
        }
      }
      return Either.right(verified.client)
    }

    // Verified tokens by the SHA-256 of the whole token: a prefix would let a forged token share a
    // genuine one's entry, and a cryptographic hash cannot be made to collide. Effect's `Cache` is not
    // used as its lookup sees only the key, which would then have to hold the token itself.
    const verifiedTokens = new Map<string, Verified>()
    const remember = (digest: string, verified: Verified) => {
      if (verifiedTokens.size >= cacheSize) {
        const oldest = verifiedTokens.keys().next()
        if (oldest.done !== true) verifiedTokens.delete(oldest.value)
      }
      verifiedTokens.set(digest, verified)
    }

    const authenticate: M2MTokenVerifier.Service["authenticate"] = (token, call) =>
      Effect.clockWith((clock) => {
        const raw = Redacted.value(token)
        if (cacheSize === 0) {
          return Effect.flatMap(
            verifyToken(raw),
            (verified) => admit(verified, clock.unsafeCurrentTimeMillis(), call)
          )
        }
        const digest = hash("sha256", raw, "base64")
        const now = clock.unsafeCurrentTimeMillis()
        const cached = verifiedTokens.get(digest)
        // Never served past `exp`, whatever the tolerance, nor once its key left the key set or got too
        // old to serve: such a token is verified afresh, and fails as a fresh one would.
        if (
          cached !== undefined && now < cached.expiresAt &&
          usableKeys(now)?.get(cached.kid)?.includes(cached.key) === true
        ) {
          return admit(cached, now, call)
        }
        if (cached !== undefined) verifiedTokens.delete(digest)
        return Effect.flatMap(verifyToken(raw), (verified) => {
          const now = clock.unsafeCurrentTimeMillis()
          if (now < verified.expiresAt) remember(digest, verified)
          return admit(verified, now, call)
        })
      })

    return { authenticate }
  })
