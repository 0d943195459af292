// The token contract, run against the http token layer over loopback to an emulator with a fresh
// store; the key set is fetched from the emulator's JWKS endpoint, as a verifier would.
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { JwksAnswer, jwksRoute, projectPath } from "@stytch-effect/core"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients, HttpM2MTokens } from "@stytch-effect/http"
import { generateSigningKey } from "@stytch-effect/memory"
import { Effect, Layer } from "effect"
import { TokenFixture, tokenSuite } from "../src/index.js"

const signingKeys = await Effect.runPromise(Effect.all([generateSigningKey(), generateSigningKey()]))

const fixture = Layer.effect(
  TokenFixture,
  Effect.gen(function*() {
    const emulator = yield* Emulator
    const client = yield* HttpClient.HttpClient
    const jwks = client.get(`${emulator.baseUrl}${projectPath(jwksRoute, emulator.projectId)}`).pipe(
      Effect.flatMap(HttpClientResponse.schemaBodyJson(JwksAnswer)),
      Effect.scoped,
      Effect.orDie
    )
    return { projectId: emulator.projectId, jwks, rotateKeys: emulator.keys.rotate }
  })
)

const httpOverEmulator = Layer.unwrapEffect(
  Effect.map(Emulator, ({ baseUrl, projectId, secret }) =>
    Layer.merge(
      // Nothing here fails on purpose: an error should surface at once, not after backoff.
      HttpM2MClients.layer({ projectId, secret, baseUrl, retry: false }),
      HttpM2MTokens.layer({ projectId, baseUrl, retry: false })
    ))
).pipe(Layer.merge(fixture))

tokenSuite("http over the emulator", () =>
  httpOverEmulator.pipe(
    Layer.provide(Emulator.layerMemory({ memory: { signingKeys } })),
    Layer.provide(NodeHttpClient.layerUndici)
  ))
