import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpRouter,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { CurrentClient } from "@stytch-effect/core"
import {
  HttpM2MTokenVerifier,
  M2MAuthentication,
  MaxTokenAge,
  requireClient,
  RequiredScopes
} from "@stytch-effect/http"
import { Effect, Layer, Schema } from "effect"
import { createServer } from "node:http"

class Invoice extends Schema.Class<Invoice>("Invoice")({ id: Schema.String, owner: Schema.String }) {}

// Each endpoint declares the scopes it requires, next to the endpoint.
export const Api = HttpApi.make("billing").add(
  HttpApiGroup.make("invoices")
    .add(
      HttpApiEndpoint.get("list", "/invoices").addSuccess(Schema.Array(Invoice))
        .annotate(RequiredScopes, ["read:invoices"])
    )
    .add(
      HttpApiEndpoint.post("create", "/invoices").addSuccess(Invoice)
        .annotate(RequiredScopes, ["write:invoices"])
        // Stytch does not revoke tokens: a sensitive route can refuse any issued over 5 minutes ago.
        .annotate(MaxTokenAge, "5 minutes")
    )
    .middleware(M2MAuthentication)
)

const InvoicesLive = HttpApiBuilder.group(Api, "invoices", (handlers) =>
  handlers
    // The middleware has verified the token: handlers read who is calling.
    .handle(
      "list",
      () => Effect.map(CurrentClient, (client) => [new Invoice({ id: "inv-1", owner: client.client_id })])
    )
    .handle(
      "create",
      () => Effect.map(CurrentClient, (client) => new Invoice({ id: "inv-2", owner: client.client_id }))
    ))

// Project id from STYTCH_PROJECT_ID (and a custom domain from STYTCH_BASE_URL): no secret is needed.
// The keys are fetched with your HttpClient, refreshed in the background, and kept through an outage.
const VerifierLive = HttpM2MTokenVerifier.layerConfig().pipe(Layer.provide(NodeHttpClient.layerUndici))

export const ServerLive = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(InvoicesLive))),
  Layer.provide(M2MAuthentication.layer(Api)),
  Layer.provide(VerifierLive),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 }))
)

// Without HttpApi: the same checks and answers around any HttpApp, here a route of an HttpRouter.
export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/health/billing",
    requireClient({ requiredScopes: ["read:invoices"] })(
      Effect.map(CurrentClient, (client) => HttpServerResponse.text(`hello ${client.client_id}`))
    )
  )
)
