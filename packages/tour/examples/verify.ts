import { M2MClients, M2MTokens, M2MTokenVerifier } from "@stytch-effect/core"
import { MemoryM2MClients, MemoryM2MTokenVerifier } from "@stytch-effect/memory"
import { Effect, Layer } from "effect"

// In tests: tokens from the memory store, verified by the same verifier over the store's own keys.
const projectId = "project-test-00000000-0000-4000-8000-000000000000"
export const TestLive = MemoryM2MTokenVerifier.layer({ projectId }).pipe(
  Layer.provideMerge(MemoryM2MClients.layer({ projectId }))
)

export const program = Effect.gen(function*() {
  const { m2m_client } = yield* (yield* M2MClients).create({ scopes: ["read:invoices"] })
  const { access_token } = yield* (yield* M2MTokens).token({
    client_id: m2m_client.client_id,
    client_secret: m2m_client.client_secret
  })
  const verifier = yield* M2MTokenVerifier
  const caller = yield* verifier.authenticate(access_token, { requiredScopes: ["read:invoices"] })
  // Every refusal is a tagged error; none holds the token.
  return yield* verifier.authenticate(access_token, { requiredScopes: ["write:invoices"] }).pipe(
    Effect.as("granted"),
    Effect.catchTags({
      MissingScopes: (error) => Effect.succeed(`${caller.client_id} lacks ${error.missing.join(" ")}`),
      KeysUnavailable: () => Effect.succeed("try again later (503)"),
      TokenExpired: () => Effect.succeed("expired (401)")
    }),
    Effect.catchAll((error) => Effect.succeed(`invalid token (401): ${error._tag}`))
  )
})
