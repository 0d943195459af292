/**
 * Where the tour's `M2MClients` comes from: the http layer, composed as an app would compose it, over
 * an in-process emulator by default or over real Stytch when `STYTCH_PROJECT_ID` is set. The caller
 * chooses the `HttpClient`.
 */
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients } from "@stytch-effect/http"
import { Config, Console, Effect, Layer, Option } from "effect"

/** The http layer pointed at an emulator that runs for the life of the layer. */
export const M2MClientsEmulated = Layer.unwrapEffect(
  Effect.gen(function*() {
    const emulator = yield* Emulator
    yield* Console.log(`No STYTCH_PROJECT_ID set: using an in-process emulator at ${emulator.baseUrl}`)
    return HttpM2MClients.layer({ projectId: emulator.projectId, secret: emulator.secret, baseUrl: emulator.baseUrl })
  })
).pipe(Layer.provide(Emulator.layerMemory()))

/** The http layer configured from `STYTCH_PROJECT_ID`, `STYTCH_SECRET` and `STYTCH_BASE_URL`. */
export const M2MClientsStytch = Layer.unwrapEffect(
  Console.log("STYTCH_PROJECT_ID set: talking to Stytch").pipe(Effect.as(HttpM2MClients.layerConfig()))
)

export const M2MClientsLive = Layer.unwrapEffect(
  Config.option(Config.nonEmptyString("STYTCH_PROJECT_ID")).pipe(
    Effect.map(Option.match({ onNone: () => M2MClientsEmulated, onSome: () => M2MClientsStytch }))
  )
)
