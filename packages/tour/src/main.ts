/**
 * The main job (`pnpm start`): the tour over the http layer, the way an app composes it. With
 * `STYTCH_PROJECT_ID` and `STYTCH_SECRET` set it talks to real Stytch; without, to an emulator it starts
 * in-process on loopback; then the token story (`Story.ts`): an API protected by scope and the clients
 * that call it. Exits non-zero, with the typed error's message, if any step fails.
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer } from "effect"
import { M2MClientsLive } from "./Live.js"
import { story } from "./Story.js"
import { formatSummary, tour } from "./Tour.js"

const program = Effect.gen(function*() {
  const clients = yield* Config.integer("TOUR_CLIENTS").pipe(Config.withDefault(2000))
  const runId = `tour-${Date.now().toString(36)}`
  yield* Console.log(`Tour ${runId}: ${clients} clients`)
  const summary = yield* tour({ clients, concurrency: 16, runId, deactivate: 100 })
  yield* Console.log("\nTokens: an API protected by scope, a worker with a cached token")
  const told = yield* story({ runId })
  yield* Console.log(`\n${formatSummary({ steps: [...summary.steps, ...told] })}`)
})

program.pipe(
  Effect.provide(M2MClientsLive.pipe(Layer.provideMerge(NodeHttpClient.layerUndici))),
  Effect.tapError((error) => Console.error(`tour failed: ${error.message}`)),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
