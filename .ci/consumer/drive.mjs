// Runs the README's examples as compiled in the consumer project, under plain Node ESM: against the
// standalone emulator the check started (STYTCH_* in the environment), after compose.js made
// billing-worker there, and against the emulator the emulator example starts in-process.
import { FetchHttpClient } from "@effect/platform"
import { M2MClients } from "@stytch-effect/core"
import { HttpM2MClients } from "@stytch-effect/http"
import { Effect, Layer, Option } from "effect"
import assert from "node:assert/strict"
import { createsLoseTheirAnswer, M2MClientsOverEmulator } from "./build/examples/emulator.js"
import { findClient, startRotation } from "./build/examples/errors.js"
import { once, patient, steady } from "./build/examples/retry.js"
import { deactivated, total } from "./build/examples/search.js"

const standalone = HttpM2MClients.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))

const againstTheStandalone = Effect.gen(function*() {
  const found = yield* findClient("billing-worker")
  assert.equal(Option.getOrThrow(found).client_id, "billing-worker")
  assert.ok(Option.isNone(yield* findClient("nobody")))
  // The first starts a rotation; the second meets SecretAlreadyRotating and the third ClientNotFound,
  // both caught by the example.
  yield* startRotation("billing-worker")
  yield* startRotation("billing-worker")
  yield* startRotation("nobody")
  assert.deepEqual(yield* total, Option.some(1))
  yield* deactivated
}).pipe(Effect.provide(standalone))

const inProcess = Effect.gen(function*() {
  yield* createsLoseTheirAnswer
  const clients = yield* M2MClients
  const error = yield* Effect.flip(clients.create({ client_id: "lost-answer", scopes: [] }))
  assert.equal(error._tag, "ClientSecretLost")
}).pipe(Effect.provide(M2MClientsOverEmulator))

for (const layer of [patient, steady, once]) assert.ok(Layer.isLayer(layer))
await Effect.runPromise(againstTheStandalone)
await Effect.runPromise(inProcess)
console.log("examples ran: errors, search, retry, emulator")
