// Runs the README's token example (examples/tokens.ts) over a stand-in token service and downstream.
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { M2MToken, M2MTokens } from "@stytch-effect/core"
import { ConfigProvider, DateTime, Effect, Layer, Redacted, Ref } from "effect"
import { Invoices, showToken, WorkerLive } from "../examples/tokens.js"

const stubs = Effect.gen(function*() {
  const minted = yield* Ref.make(0)
  const seen = yield* Ref.make<ReadonlyArray<string | undefined>>([])
  const tokens = M2MTokens.make({
    token: (request) =>
      Effect.map(Ref.updateAndGet(minted, (n) => n + 1), (n) =>
        new M2MToken({
          request_id: `request-id-test-${n}`,
          status_code: 200,
          access_token: Redacted.make(`token-${n}`),
          token_type: "bearer",
          expires_in: 3600,
          client_id: request.client_id,
          scopes: request.scopes ?? [],
          issued_at: DateTime.unsafeMake(0),
          expires_at: DateTime.unsafeMake(3_600_000),
          claims: {
            sub: request.client_id,
            iss: "stytch.com/project-test-1",
            aud: ["project-test-1"],
            iat: 0,
            exp: 3600
          }
        }))
  })
  const downstream = HttpClient.make((request) =>
    Effect.as(
      Ref.update(seen, (all) => [...all, request.headers["authorization"]]),
      HttpClientResponse.fromWeb(request, new Response("[]", { status: 200 }))
    )
  )
  const layer = WorkerLive.pipe(
    Layer.provide(Layer.succeed(M2MTokens, tokens)),
    Layer.provide(Layer.succeed(HttpClient.HttpClient, downstream)),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
      new Map([["WORKER_CLIENT_ID", "m2m-client-test-worker"], ["WORKER_CLIENT_SECRET", "Worker-Secret-4821-abc"]])
    )))
  )
  return { minted: Ref.get(minted), seen: Ref.get(seen), layer }
})

describe("examples/tokens.ts", () => {
  it.effect("the worker's calls and its own token lookups share one cached token", () =>
    Effect.gen(function*() {
      const { layer, minted, seen } = yield* stubs
      yield* Effect.gen(function*() {
        const invoices = yield* Invoices
        yield* invoices.list
        yield* invoices.list
        yield* showToken
      }).pipe(Effect.provide(layer))
      expect(yield* seen).toEqual(["Bearer token-1", "Bearer token-1"])
      expect(yield* minted).toBe(1)
    }))
})
