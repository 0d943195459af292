// The contract, run against the http layer talking over loopback to an emulator with a fresh store.
import { NodeHttpClient } from "@effect/platform-node"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients } from "@stytch-effect/http"
import { Effect, Layer } from "effect"
import { contractSuite } from "../src/index.js"

const httpOverEmulator = Layer.unwrapEffect(
  Effect.map(Emulator, ({ baseUrl, projectId, secret }) =>
    HttpM2MClients.layer({
      projectId,
      secret,
      baseUrl,
      // Nothing here fails on purpose: an error should surface at once, not after backoff.
      retry: false
    }))
).pipe(
  Layer.provide(Emulator.layerMemory()),
  Layer.provide(NodeHttpClient.layerUndici)
)

contractSuite("http over the emulator", () => httpOverEmulator)
