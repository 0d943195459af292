/**
 * Where the tour's services come from: the http layers, composed as an app would compose them, over an
 * in-process emulator by default or over real Stytch when `STYTCH_PROJECT_ID` is set. The caller
 * chooses the `HttpClient`. The management layer needs the project secret; the token layer, its cache
 * and the verifier need only the project id and base URL.
 */
import { M2MTokenCache } from "@stytch-effect/core"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients, HttpM2MTokens, HttpM2MTokenVerifier } from "@stytch-effect/http"
import { Config, Console, Effect, Layer, Option } from "effect"

/** Every service the tour and its story use, for one project. */
const project = (options: { readonly projectId: string; readonly baseUrl?: string | undefined }) =>
  Layer.mergeAll(
    HttpM2MTokenVerifier.layer(options),
    M2MTokenCache.layer().pipe(Layer.provideMerge(HttpM2MTokens.layer(options)))
  )

/** The http layers pointed at an emulator that runs for the life of the layer. */
export const M2MClientsEmulated = Layer.unwrapEffect(
  Effect.gen(function*() {
    const emulator = yield* Emulator
    yield* Console.log(`No STYTCH_PROJECT_ID set: using an in-process emulator at ${emulator.baseUrl}`)
    const { baseUrl, projectId, secret } = emulator
    return Layer.merge(HttpM2MClients.layer({ projectId, secret, baseUrl }), project({ projectId, baseUrl }))
  })
).pipe(Layer.provide(Emulator.layerMemory()))

/** The http layers configured from `STYTCH_PROJECT_ID`, `STYTCH_SECRET` and `STYTCH_BASE_URL`. */
export const M2MClientsStytch = Layer.unwrapEffect(
  Effect.gen(function*() {
    yield* Console.log("STYTCH_PROJECT_ID set: talking to Stytch")
    return Layer.merge(HttpM2MClients.layerConfig(), project(yield* HttpM2MTokens.config))
  })
)

export const M2MClientsLive = Layer.unwrapEffect(
  Config.option(Config.nonEmptyString("STYTCH_PROJECT_ID")).pipe(
    Effect.map(Option.match({ onNone: () => M2MClientsEmulated, onSome: () => M2MClientsStytch }))
  )
)
