/**
 * What `M2MTokenCache` saves, side by side in one run: getting a token from the warm cache against a
 * token request each time, one call at a time; and 10,000 concurrent callers on a cold cache, which
 * should cause one request. `BENCH=token-cache` runs only this one.
 *
 * The token service behind both is a stand-in for the memory implementation: each request signs a
 * real RS256 JWT with jose (RSA 2048, Stytch's claims), the cost the memory layer pays per token. A
 * token request over loopback HTTP costs more (see get.md: about 1.5 ms p50 for a get through our
 * layer), so the ratio here is the least the cache saves.
 */
import { M2MToken, M2MTokenCache, type M2MTokenRequest, M2MTokens } from "@stytch-effect/core"
import { Effect, Either, Layer, Redacted, Ref } from "effect"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { gc, micros, perSecond, publish, quantile, sorted, times } from "./internal/report.js"

const rounds = 8
const batchesPerRound = 50
const callsPerBatch = 20
const coldCallers = 10_000

const request: M2MTokenRequest = {
  client_id: "m2m-client-test-bench",
  client_secret: Redacted.make("Bench-Secret-4821-abcdef"),
  scopes: ["read:invoices", "write:invoices"]
}

/** An `M2MTokens` that signs each token as the memory layer does, and counts its requests. */
const signingTokens = Effect.gen(function*() {
  const { privateKey, publicKey } = yield* Effect.promise(() => generateKeyPair("RS256"))
  const kid = (yield* Effect.promise(() => exportJWK(publicKey))).n!.slice(0, 16)
  const requests = yield* Ref.make(0)
  const service = M2MTokens.make({
    token: (tokenRequest) =>
      Effect.gen(function*() {
        const n = yield* Ref.updateAndGet(requests, (count) => count + 1)
        const iat = Math.floor(Date.now() / 1000)
        const jwt = yield* Effect.promise(() =>
          new SignJWT({ scope: (tokenRequest.scopes ?? []).join(" ") })
            .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
            .setSubject(tokenRequest.client_id)
            .setIssuer("stytch.com/project-test-bench")
            .setAudience(["project-test-bench"])
            .setIssuedAt(iat)
            .setNotBefore(iat)
            .setExpirationTime(iat + 3600)
            .sign(privateKey)
        )
        return Either.getOrThrow(M2MToken.fromAnswer({
          request_id: `request-id-test-${n}`,
          status_code: 200,
          access_token: Redacted.make(jwt),
          token_type: "bearer",
          expires_in: 3600
        }))
      })
  })
  return { requests: Ref.get(requests), layer: Layer.succeed(M2MTokens, service) }
})

interface Measured {
  readonly name: string
  readonly p50: number
  readonly p99: number
  readonly perSecond: number
}

/**
 * Per-call milliseconds of `call`, one at a time: batches of `callsPerBatch`, each timed whole (a
 * cached token takes less than the timer's resolution), contenders in turns, a GC before each block.
 */
const measure = (contenders: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]>) =>
  Effect.gen(function*() {
    const samples = contenders.map(() => [] as Array<number>)
    const totals = contenders.map(() => ({ calls: 0, millis: 0 }))
    for (let round = 0; round < rounds; round++) {
      for (let turn = 0; turn < contenders.length; turn++) {
        const index = (turn + round) % contenders.length
        const [, call] = contenders[index]!
        yield* Effect.sync(gc)
        for (let batch = 0; batch < batchesPerRound; batch++) {
          const start = performance.now()
          for (let i = 0; i < callsPerBatch; i++) yield* call
          const millis = performance.now() - start
          samples[index]!.push(millis / callsPerBatch)
          totals[index]!.calls += callsPerBatch
          totals[index]!.millis += millis
        }
      }
    }
    return contenders.map(([name], index): Measured => {
      const ordered = sorted(samples[index]!)
      return {
        name,
        p50: quantile(ordered, 0.5),
        p99: quantile(ordered, 0.99),
        perSecond: totals[index]!.calls / (totals[index]!.millis / 1000)
      }
    })
  })

const program = Effect.gen(function*() {
  const tokens = yield* signingTokens
  const service = yield* M2MTokens.pipe(Effect.provide(tokens.layer))
  const cache = yield* M2MTokenCache.make().pipe(Effect.provide(tokens.layer))
  // Warm-up, untimed: the cache holds its token, the JIT has seen both paths.
  yield* cache.token(request)
  for (let i = 0; i < 200; i++) yield* cache.token(request)
  for (let i = 0; i < 50; i++) yield* service.token(request)

  const [cached, uncached] = yield* measure([
    ["`M2MTokenCache.token`, warm", cache.token(request)],
    ["`M2MTokens.token`, a request each time", service.token(request)]
  ])

  // Cold: a fresh cache, 10,000 callers at once.
  const before = yield* tokens.requests
  const cold = yield* M2MTokenCache.make().pipe(Effect.provide(tokens.layer))
  yield* Effect.sync(gc)
  const start = performance.now()
  const answers = yield* Effect.forEach(Array.from({ length: coldCallers }), () => cold.token(request), {
    concurrency: "unbounded"
  })
  const coldMillis = performance.now() - start
  const coldRequests = (yield* tokens.requests) - before
  const distinct = new Set(answers.map((token) => Redacted.value(token.access_token))).size
  return { cached: cached!, uncached: uncached!, coldMillis, coldRequests, distinct }
})

export const run = async (): Promise<string> => {
  const { cached, coldMillis, coldRequests, distinct, uncached } = await Effect.runPromise(Effect.scoped(program))
  const row = (m: Measured) =>
    `| ${m.name} | ${micros(m.p50)} | ${micros(m.p99)} | ${perSecond(m.perSecond)} | ${times(uncached.p50 / m.p50)} |`
  return publish(
    "token-cache",
    [
      "### token-cache: a cached token against a token request each time",
      "",
      "| getting a token | p50 µs | p99 µs | calls/s | p50 speed-up over a request |",
      "| --- | ---: | ---: | ---: | ---: |",
      row(cached),
      row(uncached),
      "",
      `- ${coldCallers.toLocaleString("en-US")} concurrent callers on a cold cache: **${coldRequests} token ` +
      `request${coldRequests === 1 ? "" : "s"}** (target 1), ${distinct} distinct token${
        distinct === 1 ? "" : "s"
      } served, all answered in ${coldMillis.toFixed(0)} ms`,
      "",
      "Method: one process, one call at a time inside `Effect.runPromise`; after a warm-up, " +
      `${rounds} rounds of ${batchesPerRound} batches of ${callsPerBatch} calls per contender, the order ` +
      "rotated every round and a forced GC before each block. A batch is timed whole and divided by its " +
      "calls (a cached token takes less than the timer's resolution), so p50 and p99 are of batch " +
      "averages. The token service signs a real RS256 JWT with jose 5 per request (RSA 2048), standing in " +
      "for the memory layer; over HTTP a request costs more. The request validates its input every call; " +
      "the cache does so once per request object (it keeps the object's key and checks its secret). The " +
      "cold run's time is that of forking 10,000 fibers on this machine, not of the request."
    ].join("\n")
  )
}
