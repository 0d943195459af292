/**
 * The throwaway emulator behind `--emulator`: started inside the process on loopback, seeded with a few
 * demo clients, gone when the command ends. Commands reach it over HTTP through the http layer, so it
 * shows exactly what Stytch would.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients } from "@stytch-effect/http"
import { Effect, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { note } from "./output.js"

const demoSecret = () => Redacted.make(randomBytes(24).toString("base64url"))

/** The emulator's demo clients: fixed ids, so `clients get demo-billing-worker` works at once. */
export const demoClients = () => [
  {
    client_id: "demo-billing-worker",
    client_name: "Billing worker",
    scopes: ["read:invoices", "write:invoices"],
    client_secret: demoSecret()
  },
  {
    client_id: "demo-reports-reader",
    client_name: "Reports reader",
    scopes: ["read:invoices", "read:reports"],
    client_secret: demoSecret()
  },
  {
    client_id: "demo-legacy-sync",
    client_name: "Legacy sync",
    client_description: "Retired; kept for its audit trail",
    status: "inactive" as const,
    scopes: ["read:customers"],
    client_secret: demoSecret()
  }
]

/** `M2MClients` over HTTP to an emulator that lives as long as the command. */
export const layer = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { baseUrl, projectId, secret } = yield* Emulator
    yield* note(`Using a throwaway emulator at ${baseUrl} with ${demoClients().length} demo clients; nothing is kept.`)
    return HttpM2MClients.layer({ projectId, secret, baseUrl })
  })
).pipe(
  Layer.provide(Emulator.layerMemory({ memory: { seed: demoClients() } })),
  Layer.provide(NodeHttpClient.layerUndici)
)
