import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { Effect } from "effect"
import { createsLoseTheirAnswer, M2MClientsOverEmulator } from "../examples/emulator.js"

describe("the README's emulator example", () => {
  it.live("serves M2MClients over HTTP, so the emulator's faults reach it", () =>
    Effect.gen(function*() {
      const clients = yield* M2MClients
      yield* clients.create({ client_id: "before-faults", scopes: [] })
      yield* createsLoseTheirAnswer
      // No caller secret, so the layer cannot confirm the create that landed: it says the secret is lost.
      const error = yield* Effect.flip(clients.create({ client_id: "during-faults", scopes: [] }))
      expect(error._tag).toBe("ClientSecretLost")
      expect((yield* clients.get({ client_id: "during-faults" })).m2m_client.client_id).toBe("during-faults")
    }).pipe(Effect.provide(M2MClientsOverEmulator)))
})
