// The contract again, run against the http layer over the emulator through the other `HttpClient`s an
// app may provide: `UndiciHttpClient` (made for this API) and the platform's `FetchHttpClient`.
// `http-emulator.test.ts` runs it through `NodeHttpClient.layerUndici`.
import type { HttpClient } from "@effect/platform"
import { FetchHttpClient } from "@effect/platform"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients, UndiciHttpClient } from "@stytch-effect/http"
import { Effect, Layer } from "effect"
import { contractSuite } from "../src/index.js"

const httpOverEmulator = (client: Layer.Layer<HttpClient.HttpClient>) =>
  Layer.unwrapEffect(
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
    Layer.provide(client)
  )

contractSuite("http over the emulator, through UndiciHttpClient", () => httpOverEmulator(UndiciHttpClient.layer))
contractSuite("http over the emulator, through FetchHttpClient", () => httpOverEmulator(FetchHttpClient.layer))
