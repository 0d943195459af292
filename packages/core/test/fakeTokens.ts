// A fake token endpoint for the cache's tests: it counts requests, answers after a chosen latency on
// the clock (the TestClock in `it.effect`), and mints tokens with chosen lifetimes.
import { Clock, DateTime, Duration, Effect, Layer, Redacted, Ref } from "effect"
import type { M2MTokenRequest, TokenError } from "../src/index.js"
import { M2MToken, M2MTokens, ServerError } from "../src/index.js"

export interface FakeTokensOptions {
  /** How long each request takes to answer. */
  readonly latency?: Duration.DurationInput
  /** The answer's `expires_in`, seconds. */
  readonly expiresIn?: number
  /** The JWT's `exp - iat`, seconds; `expiresIn` when left out. */
  readonly claimedLife?: number
  /** How far the server's clock is ahead of ours, seconds (negative: behind). Default 0. */
  readonly serverClockAhead?: number
}

export interface FakeTokens {
  /** The instants (ms) each request was sent at, in order. */
  readonly sent: Effect.Effect<ReadonlyArray<number>>
  readonly requests: Effect.Effect<number>
  /** How many requests were interrupted before they answered. */
  readonly interrupted: Effect.Effect<number>
  /** The next requests fail with these errors, one each, before any succeeds. */
  readonly failNext: (...errors: ReadonlyArray<TokenError>) => Effect.Effect<void>
  readonly service: M2MTokens.Service
  readonly layer: Layer.Layer<M2MTokens>
}

export const serverError = new ServerError({
  status_code: 503,
  error_type: "server_unavailable",
  error_message: "down"
})

export const makeFakeTokens = (options: FakeTokensOptions = {}): Effect.Effect<FakeTokens> =>
  Effect.gen(function*() {
    const sent = yield* Ref.make<ReadonlyArray<number>>([])
    const interrupted = yield* Ref.make(0)
    const failures = yield* Ref.make<ReadonlyArray<TokenError>>([])
    const expiresIn = options.expiresIn ?? 3600
    const claimedLife = options.claimedLife ?? expiresIn

    const mint = (request: M2MTokenRequest, n: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        // The server stamps the token when it answers, as a real one does.
        const iat = Math.floor(now / 1000) + (options.serverClockAhead ?? 0)
        const scope = (request.scopes ?? []).join(" ")
        return new M2MToken({
          request_id: `request-id-test-${n}`,
          status_code: 200,
          access_token: Redacted.make(`token-${n}`),
          token_type: "bearer",
          expires_in: expiresIn,
          client_id: request.client_id,
          scopes: request.scopes ?? [],
          issued_at: DateTime.unsafeMake(iat * 1000),
          expires_at: DateTime.unsafeMake((iat + claimedLife) * 1000),
          claims: {
            sub: request.client_id,
            iss: "stytch.com/project-test-1",
            aud: ["project-test-1"],
            scope,
            iat,
            exp: iat + claimedLife
          }
        })
      })

    const service = M2MTokens.make({
      token: (request) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const n = (yield* Ref.updateAndGet(sent, (all) => [...all, now])).length
          if (options.latency !== undefined) yield* Effect.sleep(options.latency)
          const failure = yield* Ref.modify(failures, ([first, ...rest]) => [first, rest])
          if (failure !== undefined) return yield* Effect.fail(failure)
          return yield* mint(request, n)
        }).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (count) => count + 1)))
    })

    return {
      sent: Ref.get(sent),
      requests: Effect.map(Ref.get(sent), (all) => all.length),
      interrupted: Ref.get(interrupted),
      failNext: (...errors) => Ref.set(failures, errors),
      service,
      layer: Layer.succeed(M2MTokens, service)
    }
  })

/** The token's name, as the fake minted it (`token-3`), for tables that say which token was served. */
export const nameOf = (token: M2MToken) => Redacted.value(token.access_token)

export const minutes = (m: number) => Duration.toMillis(Duration.minutes(m))
