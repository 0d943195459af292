import { NodeHttpClient } from "@effect/platform-node"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients } from "@stytch-effect/http"
import { Effect, Layer } from "effect"

// The http layer against an emulator that lives as long as the layer: real HTTP on loopback, no account.
// provideMerge keeps `Emulator` in the output too, so a test can reach its faults.
export const M2MClientsOverEmulator = Layer.unwrapEffect(
  Effect.map(Emulator, ({ baseUrl, projectId, secret }) => HttpM2MClients.layer({ projectId, secret, baseUrl }))
).pipe(
  Layer.provideMerge(Emulator.layerMemory()),
  Layer.provide(NodeHttpClient.layerUndici)
)

// Faults on demand: every create is applied, but answered 503, as if the answer were lost.
export const createsLoseTheirAnswer = Effect.flatMap(
  Emulator,
  ({ faults }) => faults.setRoute("create", { commitThenFail: { share: 1, status: 503 } })
)
