// The verifier over the store's own keys: an app's tests verify the tokens the memory layer issues,
// through a rotation, with the same checks as the http layer's verifier.
import { describe, expect, it } from "@effect/vitest"
import { M2MClients, M2MTokens, M2MTokenVerifier } from "@stytch-effect/core"
import { Context, Effect, Layer, TestClock } from "effect"
import { generateSigningKey, MemoryM2MClients, MemoryM2MTokenVerifier, SigningKeys } from "../src/index.js"

const projectId = "project-test-11111111-2222-4333-8444-555555555555"
const keys = await Effect.runPromise(Effect.all([generateSigningKey({ projectId }), generateSigningKey({ projectId })]))

const TestLive = MemoryM2MTokenVerifier.layer({ projectId }).pipe(
  Layer.provideMerge(MemoryM2MClients.layer({ projectId, signingKeys: keys }))
)

const tokenFor = (scopes: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { m2m_client } = yield* (yield* M2MClients).create({ scopes })
    return yield* (yield* M2MTokens).token({ client_id: m2m_client.client_id, client_secret: m2m_client.client_secret })
  })

describe("MemoryM2MTokenVerifier", () => {
  it.scoped("verifies the store's tokens and names their client and scopes", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const token = yield* tokenFor(["read:invoices"])
      const client = yield* (yield* M2MTokenVerifier).authenticate(token.access_token, {
        requiredScopes: ["read:invoices"]
      })
      expect(client).toMatchObject({ client_id: token.client_id, scopes: ["read:invoices"] })
      const refused = yield* Effect.flip((yield* M2MTokenVerifier).authenticate(token.access_token, {
        requiredScopes: ["write:invoices"]
      }))
      expect(refused).toMatchObject({ _tag: "MissingScopes", missing: ["write:invoices"] })
    }).pipe(Effect.provide(TestLive)))

  it.scoped("verifies a token signed after a rotation at once, and the earlier key's tokens too", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const verifier = yield* M2MTokenVerifier
      const before = yield* tokenFor([])
      yield* verifier.authenticate(before.access_token)
      yield* (yield* SigningKeys).rotate
      const after = yield* tokenFor([])
      expect((yield* verifier.authenticate(after.access_token)).client_id).toBe(after.client_id)
      expect((yield* verifier.authenticate(before.access_token, { maxTokenAge: "1 hour" })).client_id).toBe(
        before.client_id
      )
    }).pipe(Effect.provide(TestLive)))

  it.scoped("stops verifying a retired key's tokens at once, on a clock that does not move, cached or not", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const verifier = yield* M2MTokenVerifier
      const before = yield* tokenFor([])
      const keys = yield* SigningKeys
      yield* keys.rotate
      // The rotation's new kid makes the verifier read the key set, which still serves the old key.
      yield* verifier.authenticate((yield* tokenFor([])).access_token)
      expect((yield* verifier.authenticate(before.access_token)).client_id).toBe(before.client_id)
      yield* keys.retire
      expect(yield* Effect.flip(verifier.authenticate(before.access_token))).toMatchObject({
        _tag: "UnknownSigningKey"
      })
    }).pipe(Effect.provide(TestLive)))

  it.scoped("verifies tokens however far the clock moves with the same keys", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const verifier = yield* M2MTokenVerifier
      yield* verifier.authenticate((yield* tokenFor([])).access_token)
      yield* TestClock.adjust("400 days")
      const later = yield* tokenFor([])
      expect((yield* verifier.authenticate(later.access_token)).client_id).toBe(later.client_id)
    }).pipe(Effect.provide(TestLive)))

  it.scoped("holds tokens to the project it is given", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const token = yield* tokenFor([])
      const other = yield* Layer.build(MemoryM2MTokenVerifier.layer({ projectId: "project-test-other" })).pipe(
        Effect.map(Context.get(M2MTokenVerifier)),
        Effect.provideService(SigningKeys, yield* SigningKeys)
      )
      expect(yield* Effect.flip(other.authenticate(token.access_token))).toMatchObject({ _tag: "WrongIssuer" })
    }).pipe(Effect.provide(TestLive)))
})
