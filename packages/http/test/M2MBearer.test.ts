import { HttpBody, HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import type { M2MTokenRequest } from "@stytch-effect/core"
import { M2MToken, M2MTokenCache, M2MTokens, ServerError } from "@stytch-effect/core"
import { Clock, DateTime, Effect, Fiber, Layer, Redacted, Ref, Stream, TestClock } from "effect"
import { M2MBearer } from "../src/index.js"

const tokenRequest: M2MTokenRequest = {
  client_id: "m2m-client-test-1",
  client_secret: Redacted.make("Client-Secret-4821-abc"),
  scopes: ["read:invoices"]
}

/** A token endpoint that mints `token-1`, `token-2`, ..., each living an hour; or fails, when told. */
const fakeTokens = (options: { readonly failing?: boolean } = {}) =>
  Effect.gen(function*() {
    const minted = yield* Ref.make(0)
    const service = M2MTokens.make({
      token: (request) =>
        Effect.gen(function*() {
          if (options.failing) {
            return yield* new ServerError({ status_code: 503, error_type: "server_unavailable", error_message: "down" })
          }
          const n = yield* Ref.updateAndGet(minted, (count) => count + 1)
          const iat = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          return new M2MToken({
            request_id: `request-id-test-${n}`,
            status_code: 200,
            access_token: Redacted.make(`token-${n}`),
            token_type: "bearer",
            expires_in: 3600,
            client_id: request.client_id,
            scopes: request.scopes ?? [],
            issued_at: DateTime.unsafeMake(iat * 1000),
            expires_at: DateTime.unsafeMake((iat + 3600) * 1000),
            claims: {
              sub: request.client_id,
              iss: "stytch.com/project-test-1",
              aud: ["project-test-1"],
              iat,
              exp: iat + 3600
            }
          })
        })
    })
    return { minted: Ref.get(minted), layer: Layer.succeed(M2MTokens, service) }
  })

/**
 * A downstream that records the Authorization header of every request and answers 401 to the
 * tokens it refuses, 200 to the others.
 */
const fakeDownstream = (refuses: (authorization: string | undefined) => boolean, options: {
  /** The 401's body never ends. */
  readonly stalls?: boolean
} = {}) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<string | undefined>>([])
    const client = HttpClient.make((request) =>
      Effect.gen(function*() {
        const authorization = request.headers["authorization"]
        yield* Ref.update(seen, (all) => [...all, authorization])
        const status = refuses(authorization) ? 401 : 200
        const body = status === 401 && options.stalls === true
          ? new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode("{")) })
          : status === 401
          ? "{\"error\":\"invalid_token\"}"
          : "{}"
        return HttpClientResponse.fromWeb(request, new Response(body, { status }))
      })
    )
    return { seen: Ref.get(seen), client }
  })

const setup = (
  refuses: (authorization: string | undefined) => boolean,
  options?: { readonly failing?: boolean; readonly stalls?: boolean }
) =>
  Effect.gen(function*() {
    const tokens = yield* fakeTokens(options)
    const downstream = yield* fakeDownstream(refuses, options)
    const cache = yield* M2MTokenCache.make().pipe(Effect.provide(tokens.layer))
    // The one line a worker writes.
    const billing = yield* M2MBearer.withToken(tokenRequest)(downstream.client).pipe(
      Effect.provideService(M2MTokenCache, cache)
    )
    return { tokens, downstream, cache, billing }
  })

const get = HttpClientRequest.get("https://billing.example/v1/invoices")

describe("M2MBearer.withToken", () => {
  it.scoped("sets Authorization: Bearer <token> on every request, from one cached token", () =>
    Effect.gen(function*() {
      const { billing, downstream, tokens } = yield* setup(() => false)
      for (let i = 0; i < 3; i++) expect((yield* billing.execute(get)).status).toBe(200)
      expect(yield* downstream.seen).toEqual(["Bearer token-1", "Bearer token-1", "Bearer token-1"])
      expect(yield* tokens.minted).toBe(1)
    }))

  it.scoped("a 401 drops the token and retries once with a fresh one", () =>
    Effect.gen(function*() {
      const { billing, cache, downstream, tokens } = yield* setup((authorization) => authorization === "Bearer token-1")
      yield* cache.token(tokenRequest)
      // The downstream refuses a token a minute old (a maximum token age, say).
      yield* TestClock.adjust("1 minute")
      expect((yield* billing.execute(get)).status).toBe(200)
      expect(yield* downstream.seen).toEqual(["Bearer token-1", "Bearer token-2"])
      expect(yield* tokens.minted).toBe(2)
    }))

  it.scoped("retries only once: a second 401 is the caller's answer", () =>
    Effect.gen(function*() {
      const { billing, cache, downstream } = yield* setup(() => true)
      yield* cache.token(tokenRequest)
      yield* TestClock.adjust("1 minute")
      expect((yield* billing.execute(get)).status).toBe(401)
      expect(yield* downstream.seen).toEqual(["Bearer token-1", "Bearer token-2"])
    }))

  it.scoped("a 401 whose body never ends is retried a second later, not held until the caller gives up", () =>
    Effect.gen(function*() {
      const { billing, cache, downstream } = yield* setup((authorization) => authorization === "Bearer token-1", {
        stalls: true
      })
      yield* cache.token(tokenRequest)
      yield* TestClock.adjust("1 minute")
      const answer = yield* Effect.fork(billing.execute(get))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(answer)).status).toBe(200)
      expect(yield* downstream.seen).toEqual(["Bearer token-1", "Bearer token-2"])
    }))

  it.scoped("many requests refused with one token cause one new token", () =>
    Effect.gen(function*() {
      const { billing, cache, tokens } = yield* setup((authorization) => authorization === "Bearer token-1")
      yield* cache.token(tokenRequest)
      yield* TestClock.adjust("1 minute")
      const answers = yield* Effect.forEach(Array.from({ length: 20 }), () => billing.execute(get), {
        concurrency: "unbounded"
      })
      expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 20 }, () => 200))
      expect(yield* tokens.minted).toBe(2)
    }))

  it.scoped("a request with a stream body is not sent twice: its 401 comes back", () =>
    Effect.gen(function*() {
      const { billing, cache, downstream } = yield* setup((authorization) => authorization === "Bearer token-1")
      yield* cache.token(tokenRequest)
      yield* TestClock.adjust("1 minute")
      const upload = HttpClientRequest.post("https://billing.example/v1/uploads").pipe(
        HttpClientRequest.setBody(HttpBody.stream(Stream.make(new TextEncoder().encode("invoice"))))
      )
      expect((yield* billing.execute(upload)).status).toBe(401)
      expect(yield* downstream.seen).toEqual(["Bearer token-1"])
    }))

  it.scoped("no token, no request: the token error is typed, in the client's error channel", () =>
    Effect.gen(function*() {
      const { billing, downstream } = yield* setup(() => false, { failing: true })
      const error = yield* Effect.flip(billing.execute(get))
      expect(error._tag).toBe("ServerError")
      expect(yield* downstream.seen).toEqual([])
    }))
})

describe("M2MBearer.layer", () => {
  it.scoped("decorates the HttpClient below it; a token error is a RequestError whose cause is the token error", () =>
    Effect.gen(function*() {
      const tokens = yield* fakeTokens({ failing: true })
      const downstream = yield* fakeDownstream(() => false)
      const error = yield* HttpClient.HttpClient.pipe(
        Effect.flatMap((client) => Effect.flip(client.execute(get))),
        Effect.provide(
          M2MBearer.layer(tokenRequest).pipe(
            Layer.provide(Layer.succeed(HttpClient.HttpClient, downstream.client)),
            Layer.provide(M2MTokenCache.layer().pipe(Layer.provide(tokens.layer)))
          )
        )
      )
      expect(error._tag).toBe("RequestError")
      expect(error._tag === "RequestError" && error.reason).toBe("Transport")
      expect((error.cause as { _tag?: string })._tag).toBe("ServerError")
      expect(error.message).not.toContain("Client-Secret")
    }))

  it.scoped("with a token, requests carry it", () =>
    Effect.gen(function*() {
      const tokens = yield* fakeTokens()
      const downstream = yield* fakeDownstream(() => false)
      yield* HttpClient.HttpClient.pipe(
        Effect.flatMap((client) => client.execute(get)),
        Effect.provide(
          M2MBearer.layer(tokenRequest).pipe(
            Layer.provide(Layer.succeed(HttpClient.HttpClient, downstream.client)),
            Layer.provide(M2MTokenCache.layer().pipe(Layer.provide(tokens.layer)))
          )
        )
      )
      expect(yield* downstream.seen).toEqual(["Bearer token-1"])
    }))
})
