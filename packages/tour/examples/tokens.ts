import { HttpClient, HttpClientResponse } from "@effect/platform"
import { M2MTokenCache } from "@stytch-effect/core"
import { M2MBearer } from "@stytch-effect/http"
import { Config, DateTime, Effect, Layer } from "effect"

// The worker's own credentials (its client id and secret, not the project's), read once.
const credentials = Config.all({
  client_id: Config.string("WORKER_CLIENT_ID"),
  client_secret: Config.redacted("WORKER_CLIENT_SECRET")
})

// A cached token: the first call asks M2MTokens; later ones are served from memory, and from 5
// minutes before expiry a background request replaces it while the old one is still served.
export const showToken = Effect.gen(function*() {
  const cache = yield* M2MTokenCache
  const request = { ...(yield* credentials), scopes: ["read:invoices"] }
  const token = yield* cache.token(request)
  // access_token is Redacted; what the token says about itself is readable.
  yield* Effect.log(`${token.client_id} holds ${token.scopes.join(" ")} until ${DateTime.formatIso(token.expires_at)}`)
})

// A downstream API whose every call carries `Authorization: Bearer <token>`; a 401 drops the token
// and the call is sent once more with a fresh one.
export class Invoices extends Effect.Service<Invoices>()("example/Invoices", {
  effect: Effect.gen(function*() {
    const request = { ...(yield* credentials), scopes: ["read:invoices"] }
    const client = yield* HttpClient.HttpClient.pipe(Effect.flatMap(M2MBearer.withToken(request)))
    return {
      list: client.get("https://invoices.internal.example/v1/invoices").pipe(
        Effect.flatMap(HttpClientResponse.filterStatusOk),
        Effect.flatMap((response) => response.json)
      )
    }
  })
}) {}

// One cache for the whole worker. It needs an M2MTokens (the http layer in production, the memory
// layer in tests) and the HttpClient the downstream calls go out on.
export const WorkerLive = Invoices.Default.pipe(Layer.provideMerge(M2MTokenCache.layer()))
