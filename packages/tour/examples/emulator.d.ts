import { Emulator } from "@stytch-effect/emulator"
import { Effect, Layer } from "effect"
export declare const M2MClientsOverEmulator: Layer.Layer<
  Emulator | import("@stytch-effect/core").M2MClients | import("@stytch-effect/memory").ClientCredentials,
  import("effect/ConfigError").ConfigError | import("@effect/platform/HttpServerError").ServeError,
  never
>
export declare const createsLoseTheirAnswer: Effect.Effect<void, never, Emulator>
// # sourceMappingURL=emulator.d.ts.map
