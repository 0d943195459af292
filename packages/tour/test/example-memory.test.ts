import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { ClientCredentials, MemoryM2MClients } from "@stytch-effect/memory"
import { Effect, Redacted } from "effect"

// The code under test asks only for M2MClients.
const provisionWorker = (team: string) =>
  Effect.flatMap(M2MClients, (clients) => clients.create({ client_name: `${team} worker`, scopes: [`team:${team}`] }))

describe("provisionWorker", () => {
  // A fresh store per test: nothing leaks between tests.
  it.effect("creates a client scoped to the team", () =>
    Effect.gen(function*() {
      const created = yield* provisionWorker("billing")
      expect(created.m2m_client.scopes).toEqual(["team:billing"])
      // The secret is shown once, Redacted; the store keeps only its hash.
      const credentials = yield* ClientCredentials
      expect(yield* credentials.verify(created.m2m_client.client_id, created.m2m_client.client_secret)).toBe(true)
    }).pipe(Effect.provide(MemoryM2MClients.layer())))

  // Errors are the API's own, caught by tag; seeds start the store from a given state.
  it.effect("a taken client id fails with DuplicateClientId", () =>
    Effect.gen(function*() {
      const clients = yield* M2MClients
      const error = yield* Effect.flip(clients.create({ client_id: "billing-worker", scopes: [] }))
      expect(error._tag).toBe("DuplicateClientId")
    }).pipe(Effect.provide(MemoryM2MClients.layer({
      seed: [{ client_id: "billing-worker", client_secret: Redacted.make("Existing-Secret-4821-abc") }]
    }))))
})
