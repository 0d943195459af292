/**
 * A child-process entry: the emulator over a memory store seeded with `BENCH_SEED` clients, for the
 * walk benchmark, which needs far more clients than creating them over HTTP could make in its time. The
 * standalone `bin.js` has no seed option, so this is the same `Emulator.layerMemory` with one. Reads its
 * credentials from the environment (never argv, which `ps` shows) and prints one JSON line with its base
 * URL when it listens.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Emulator } from "@stytch-effect/emulator"
import { Config, Console, Effect, Layer } from "effect"

const main = Effect.gen(function*() {
  const projectId = yield* Config.nonEmptyString("STYTCH_EMULATOR_PROJECT_ID")
  const secret = yield* Config.redacted(Config.nonEmptyString("STYTCH_EMULATOR_SECRET"))
  const count = yield* Config.integer("BENCH_SEED")
  const seed = Array.from({ length: count }, (_, n) => ({
    client_id: `m2m-client-test-${n.toString().padStart(8, "0")}`,
    client_name: `worker-${n}`,
    client_description: "A seeded client for the walk benchmark",
    client_secret: secret,
    scopes: ["read:users", "write:users"],
    trusted_metadata: { team: "billing", n }
  }))
  return yield* Layer.launch(
    Layer.effectDiscard(Effect.flatMap(Emulator, ({ baseUrl }) => Console.log(JSON.stringify({ baseUrl })))).pipe(
      Layer.provideMerge(Emulator.layerMemory({ projectId, secret, memory: { seed } }))
    )
  )
})

NodeRuntime.runMain(main)
