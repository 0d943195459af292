import { FetchHttpClient } from "@effect/platform"
import { M2MClients } from "@stytch-effect/core"
import { HttpM2MClients, UndiciHttpClient } from "@stytch-effect/http"
import { Console, Effect, Layer, Option, Redacted } from "effect"

// Credentials from STYTCH_PROJECT_ID, STYTCH_SECRET and, optionally, STYTCH_BASE_URL.
// You choose the HttpClient. In Node apps, this package's own client over undici: one keep-alive pool,
// bodies read once and bounded, interrupted requests aborted, no redirects, the least work per call.
export const M2MClientsNode = HttpM2MClients.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer))

// Under load, bound its connections: a request abandoned at its timeout takes its connection with it,
// and an unbounded pool opens a new one for each, a storm of connects against a server already too slow.
export const M2MClientsBounded = HttpM2MClients.layerConfig({ timeout: "10 seconds" }).pipe(
  Layer.provide(UndiciHttpClient.layerWith({ connections: 64 }))
)

// ...or fetch, anywhere (browsers, Deno, Bun, edge runtimes).
export const M2MClientsFetch = HttpM2MClients.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))

// Or plain values, say from your own config service.
export const M2MClientsExplicit = HttpM2MClients.layer({
  projectId: "project-test-00000000-0000-0000-0000-000000000000",
  secret: Redacted.make("secret-test-..."),
  baseUrl: "http://127.0.0.1:4455" // the emulator; leave out for Stytch
}).pipe(Layer.provide(UndiciHttpClient.layer))

export const program = Effect.gen(function*() {
  const clients = yield* M2MClients
  const { m2m_client } = yield* clients.create({
    client_id: "billing-worker", // your own id lets the layer retry the create: it can never make two
    scopes: ["read:invoices", "write:invoices"],
    client_name: "Billing worker"
  })
  // `client_secret` is Redacted: logging m2m_client prints <redacted>. Unwrap it only where you store it.
  yield* Console.log(`created ${m2m_client.client_id}, secret ending ${m2m_client.client_secret_last_four}`)
  return Option.some(m2m_client.client_secret)
}).pipe(
  // A second run finds the id taken by the first run's client, whose secret only that run was shown.
  Effect.catchTag(
    "DuplicateClientId",
    () =>
      Effect.as(Console.log("billing-worker exists already: rotate its secret if you need a new one"), Option.none())
  )
)

Effect.runPromise(program.pipe(Effect.provide(M2MClientsBounded)))
