/**
 * A cache of M2M access tokens over `M2MTokens`, which no Stytch SDK has: every SDK posts to the token
 * endpoint on every call. Provide `M2MTokenCache.layer()` once and ask it for tokens as often as you
 * like; it asks `M2MTokens` for one token per client, scope set and extra parameters, and only again
 * when that token nears its expiry.
 *
 * The rules, each pinned by a test in `test/M2MTokenCache.test.ts`:
 * - one token per key, reused until its refresh point (see `refreshBefore`);
 * - single flight: however many callers ask for the same token at once, one request is made;
 * - a token past its refresh point but still valid is served at once while one background request
 *   replaces it; only a caller that finds no valid token waits;
 * - a failed request is never kept as if it were a token: the next caller tries again, after a backoff
 *   that doubles with each failure in a row; a failed background refresh keeps serving the valid token;
 * - a token's expiry is counted from when its request was sent, for `expires_in` or its `exp - iat`,
 *   whichever is shorter, never from when the answer arrived, so a slow answer cannot stretch a token's
 *   life past the server's, and a clock that differs from the server's does not shorten it;
 * - `invalidate` drops a token a downstream refused; at most `capacity` keys are kept, the least
 *   recently used evicted first;
 * - the background requests are fibers of the layer's scope: closing it interrupts them.
 */
import {
  Clock,
  Context,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Exit,
  FiberSet,
  Layer,
  Redacted,
  Ref,
  type Scope
} from "effect"
import { createHash } from "node:crypto"
import { validateRequest } from "./M2MClients.js"
import { M2MToken, type M2MTokenRequest, M2MTokens, type TokenError, tokenOperation } from "./M2MTokens.js"

export interface M2MTokenCacheOptions {
  /** How many keys (client, scope set, extra parameters, secret) are kept; least recently used go first. Default 1000. */
  readonly capacity?: number | undefined
  /**
   * How long before its expiry a token is replaced in the background, at most half its life. Default
   * 5 minutes (as Google's and AWS's SDKs): time for a token call that retries through a few 30-second
   * timeouts, and for a token-endpoint outage of minutes to pass while the valid token is still served.
   * The half-life cap keeps a short-lived token from being replaced on every call.
   */
  readonly refreshBefore?: Duration.DurationInput | undefined
  /**
   * How long before its expiry a token is no longer served, at most a tenth of its life. Default 30
   * seconds: room for a verifier whose clock runs ahead of ours and for the call that carries the token
   * to reach it. A caller that finds only such a token waits for a new one.
   */
  readonly expiryMargin?: Duration.DurationInput | undefined
  /** The wait after a failed request before the next one; it doubles with each failure in a row. Default 250 ms. */
  readonly backoff?: Duration.DurationInput | undefined
  /** The longest wait after failures in a row. Default 10 seconds. */
  readonly maxBackoff?: Duration.DurationInput | undefined
}

export declare namespace M2MTokenCache {
  export interface Service {
    /**
     * A token for the request: the cached one while it is fresh, else a new one from `M2MTokens`.
     * Fails as `M2MTokens.token` does, with the error of the request that was made for this caller
     * (or that this caller joined).
     */
    readonly token: (request: M2MTokenRequest) => Effect.Effect<M2MToken, TokenError>
    /**
     * Drops a token a downstream refused, so the next caller gets a new one. Given a token, it drops it
     * only if it is still the one cached (a refusal of a token already replaced changes nothing); given
     * a request, it drops whatever token is cached for it.
     */
    readonly invalidate: (refused: M2MTokenRequest | M2MToken) => Effect.Effect<void>
  }
}

/** A token as the cache holds it, with the instants (epoch milliseconds) that decide its use. */
interface Held {
  readonly token: M2MToken
  /** When its request was sent: its life is counted from here. */
  readonly sentAt: number
  /** From here on, a caller triggers a background refresh. */
  readonly refreshAt: number
  /** From here on, it is not served: callers wait for a new one. */
  readonly staleAt: number
}

/** What the cache knows about one key; its transitions are `Ref` updates, each atomic. */
interface Entry {
  readonly held: Held | undefined
  /** The one request in flight for this key, which callers without a valid token join. */
  readonly pending: Deferred.Deferred<M2MToken, TokenError> | undefined
  /** Failed requests in a row, for the backoff. */
  readonly failures: number
  /** No request before this instant. */
  readonly retryAt: number
}

const emptyEntry: Entry = { held: undefined, pending: undefined, failures: 0, retryAt: 0 }

/** The cache key: the secret enters it only as a SHA-256 digest, so the cache holds no secret. */
const keyOf = (request: M2MTokenRequest, secretDigest: string): string =>
  JSON.stringify([
    request.client_id,
    // As a set: order and repeats do not make another token, and no scopes means every scope.
    [...new Set(request.scopes ?? [])].sort(),
    Object.entries(request.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    secretDigest
  ])

/**
 * The cache over the `M2MTokens` in context; its background requests live in the current scope.
 *
 * Not Effect's `Cache` (nor `cachedInvalidateWithTTL`) for the tokens: `Cache.refresh` replaces a
 * valid value with a failed lookup's failure, a time to live is counted from when the lookup ended
 * (not from when the request was sent), and neither has a backoff. So each key's value is an `Entry`
 * in a `Ref` whose transitions below carry those rules. A request is a fiber of a `FiberSet` (so it
 * lives in the layer's scope) that completes a `Deferred` the callers wait on.
 */
const make = (
  options: M2MTokenCacheOptions = {}
): Effect.Effect<M2MTokenCache.Service, never, M2MTokens | Scope.Scope> =>
  Effect.gen(function*() {
    const tokens = yield* M2MTokens
    // Each request's fiber ends with its exit as a value: a failure is its callers' to handle, not an
    // unhandled error for the runtime to log (at Debug, and as an event on the span).
    const fibers = yield* FiberSet.make<Exit.Exit<M2MToken, TokenError>>()
    const refreshBefore = Duration.toMillis(options.refreshBefore ?? Duration.minutes(5))
    const expiryMargin = Duration.toMillis(options.expiryMargin ?? Duration.seconds(30))
    const backoff = Duration.toMillis(options.backoff ?? Duration.millis(250))
    const maxBackoff = Duration.toMillis(options.maxBackoff ?? Duration.seconds(10))
    // Effect's Schedule is made to drive retries from one fiber; these waits count from a failure
    // shared by every later caller of the key, so they are computed here.
    const backoffAfter = (failures: number) => Math.min(maxBackoff, backoff * 2 ** Math.min(failures - 1, 30))

    // The keys, least recently used first (a Map iterates in insertion order; a use re-inserts). Not
    // Effect's `Cache`: in 3.22 it records a key's miss and its completed entry as two nodes of its
    // recency list, so when it is full it evicts a key just used as if it were the oldest (the
    // capacity test fails on it). An entry is made synchronously, so there is no lookup to share.
    const entries = new Map<string, Ref.Ref<Entry>>()
    const capacity = Math.max(1, options.capacity ?? 1000)
    let newest: string | undefined
    const entryAt = (key: string): Ref.Ref<Entry> => {
      const known = entries.get(key)
      if (known !== undefined) {
        // Re-inserting costs; the key used last is already last.
        if (key !== newest) {
          entries.delete(key)
          entries.set(key, known)
          newest = key
        }
        return known
      }
      newest = key
      const made = Ref.unsafeMake(emptyEntry)
      entries.set(key, made)
      // An evicted entry's request in flight still answers the callers that wait on it.
      if (entries.size > capacity) entries.delete(entries.keys().next().value!)
      return made
    }
    // Which entry a handed-out token came from, for `invalidate(token)`; weak, so it keeps no token alive.
    const origins = new WeakMap<M2MToken, Ref.Ref<Entry>>()
    // The cache key holds the secret only as its SHA-256 (synchronous: a digest this small costs less
    // than the hop to the thread pool that WebCrypto's would take).
    const digestOf = (secret: Redacted.Redacted<string>): string =>
      createHash("sha256").update(Redacted.value(secret), "utf8").digest("hex")

    // The key of each request object already seen, with the fields it was computed from: the hot path
    // neither validates nor hashes again. Their types are readonly, but a request object reused with a
    // field replaced (a new secret, client, scope list or extra parameters) is read again, not served
    // the old fields' token; arrays and records are compared by identity.
    const keys = new WeakMap<M2MTokenRequest, { readonly fields: M2MTokenRequest; readonly key: string }>()
    const keyFor = (tokenRequest: M2MTokenRequest): Effect.Effect<string, TokenError> => {
      const known = keys.get(tokenRequest)
      if (
        known !== undefined && known.fields.client_secret === tokenRequest.client_secret &&
        known.fields.client_id === tokenRequest.client_id && known.fields.scopes === tokenRequest.scopes &&
        known.fields.extra === tokenRequest.extra
      ) return Effect.succeed(known.key)
      // A copy of the fields as they are now: the object itself may change while it is validated.
      const fields: M2MTokenRequest = { ...tokenRequest }
      return Effect.suspend(() => validateRequest(tokenOperation, fields)).pipe(
        // The caller's own secret, not the validated copy: validation makes a new Redacted each time.
        Effect.map(() => {
          const key = keyOf(fields, digestOf(fields.client_secret))
          keys.set(tokenRequest, { fields, key })
          return key
        })
      )
    }

    const hold = (token: M2MToken, sentAt: number): Held => {
      // The token's own life (`exp - iat`) is in the server's clock, so it is counted on ours from the
      // send: a clock that differs from the server's by more than a token's life would otherwise see
      // every token expired on arrival, and ask for a new one on every call.
      const claimed = DateTime.toEpochMillis(token.expires_at) - DateTime.toEpochMillis(token.issued_at)
      const life = Math.max(0, Math.min(token.expires_in * 1000, claimed))
      const expiresAt = sentAt + life
      const staleAt = expiresAt - Math.min(expiryMargin, life / 10)
      return { token, sentAt, staleAt, refreshAt: Math.min(staleAt, expiresAt - Math.min(refreshBefore, life / 2)) }
    }

    /**
     * Starts one request for the entry as a fiber of the cache's `FiberSet`. The fiber records its
     * outcome in the entry; the `Deferred` callers wait on is completed by the fiber's exit, whatever
     * it is (even an interruption before the fiber began, as when the layer is closing), so no caller
     * waits forever.
     */
    const startRequest = (
      entry: Ref.Ref<Entry>,
      tokenRequest: M2MTokenRequest,
      deferred: Deferred.Deferred<M2MToken, TokenError>,
      background: boolean
    ) => {
      let sentAt = 0
      const requested = Effect.gen(function*() {
        const { retryAt } = yield* Ref.get(entry)
        const wait = retryAt - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        sentAt = yield* Clock.currentTimeMillis
        return yield* tokens.token(tokenRequest)
      }).pipe(
        Effect.onExit((exit) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Ref.update(entry, (current): Entry => {
              const settled = current.pending === deferred ? { ...current, pending: undefined } : current
              if (Exit.isSuccess(exit)) {
                origins.set(exit.value, entry)
                return { ...settled, held: hold(exit.value, sentAt), failures: 0, retryAt: 0 }
              }
              // An interrupted request (the layer closing) is no failure of the token endpoint.
              if (Exit.isInterrupted(exit)) return settled
              const failures = current.failures + 1
              return { ...settled, failures, retryAt: now + backoffAfter(failures) }
            })).pipe(
              // A background failure has no caller to report to; the valid token is still served.
              Effect.zipRight(
                background && Exit.isFailure(exit) && !Exit.isInterrupted(exit)
                  ? Effect.logWarning(
                    "M2MTokenCache: a background token refresh failed; the current token is served until it expires",
                    exit.cause
                  ).pipe(Effect.annotateLogs("m2m.client_id", tokenRequest.client_id))
                  : Effect.void
              )
            )
        )
      )
      // Forked from the caller's uninterruptible decision (see `decide`), yet interruptible: the scope ends it.
      return Effect.map(FiberSet.run(fibers, Effect.interruptible(Effect.exit(requested))), (fiber) => {
        fiber.addObserver((exit) => Deferred.unsafeDone(deferred, Exit.flatten(exit)))
      })
    }

    /**
     * The slow path. The decision is one `Ref.modify`, atomic: of any number of callers that find the
     * token due, exactly one installs the `Deferred` and starts the request; the others join it or are
     * served the valid token. No lock is taken, so 10,000 callers do not queue on one. From the
     * decision until the request's fiber has its observer, nothing may interrupt the caller: a
     * `Deferred` installed with no fiber to complete it would leave every later caller of the key
     * waiting forever. Only the wait itself is interruptible.
     */
    const decide = (entry: Ref.Ref<Entry>, tokenRequest: M2MTokenRequest) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.fiberIdWith((fiberId) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.flatten(Ref.modify(entry, (current): readonly [Effect.Effect<M2MToken, TokenError>, Entry] => {
              const { held, pending } = current
              if (held !== undefined && now < held.staleAt) {
                if (now < held.refreshAt || pending !== undefined || now < current.retryAt) {
                  return [Effect.succeed(held.token), current]
                }
                const deferred = Deferred.unsafeMake<M2MToken, TokenError>(fiberId)
                return [Effect.as(startRequest(entry, tokenRequest, deferred, true), held.token), {
                  ...current,
                  pending: deferred
                }]
              }
              // A caller interrupted while waiting stops waiting, not the request the others wait for.
              if (pending !== undefined) {
                return [restore(Deferred.await(pending)), current]
              }
              const deferred = Deferred.unsafeMake<M2MToken, TokenError>(fiberId)
              return [
                Effect.zipRight(startRequest(entry, tokenRequest, deferred, false), restore(Deferred.await(deferred))),
                { ...current, pending: deferred }
              ]
            })))
        )
      )

    const token = (tokenRequest: M2MTokenRequest): Effect.Effect<M2MToken, TokenError> =>
      keyFor(tokenRequest).pipe(
        Effect.map(entryAt),
        Effect.flatMap((entry) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.flatMap(Ref.get(entry), ({ held }) =>
              // The hot path takes no lock: a fresh token is served as it is.
              held !== undefined && now < held.refreshAt ? Effect.succeed(held.token) : decide(entry, tokenRequest)))
        )
      )

    const drop = (entry: Ref.Ref<Entry>, refused?: M2MToken) =>
      Ref.update(entry, (current): Entry => {
        const { held } = current
        if (held === undefined || (refused !== undefined && held.token !== refused)) {
          return current
        }
        // At most one token per `backoff` by invalidation, so a downstream that refuses every token
        // cannot turn each of its refusals into a token request.
        return { ...current, held: undefined, retryAt: Math.max(current.retryAt, held.sentAt + backoff) }
      })

    const invalidate = (refused: M2MTokenRequest | M2MToken): Effect.Effect<void> => {
      if (refused instanceof M2MToken) {
        const entry = origins.get(refused)
        return entry === undefined ? Effect.void : drop(entry, refused)
      }
      return keyFor(refused).pipe(
        Effect.flatMap((key) => {
          const entry = entries.get(key)
          return entry === undefined ? Effect.void : drop(entry)
        }),
        // An invalid request has no token cached under it: nothing to drop.
        Effect.catchAll(() =>
          Effect.void
        )
      )
    }

    return M2MTokenCache.of({ token, invalidate })
  })

/**
 * The token cache over the `M2MTokens` the app provides (http or memory). Its background requests live
 * in the layer's scope.
 */
const layer = (options?: M2MTokenCacheOptions): Layer.Layer<M2MTokenCache, never, M2MTokens> =>
  Layer.scoped(M2MTokenCache, make(options))

/** The token cache's tag. */
export class M2MTokenCache extends Context.Tag("@stytch-effect/core/M2MTokenCache")<
  M2MTokenCache,
  M2MTokenCache.Service
>() {
  static readonly make = make
  static readonly layer = layer
}
