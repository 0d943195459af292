/**
 * The services of `@stytch-effect/core` over Stytch's HTTP API: `M2MClients`, with retries that never
 * turn one create into two clients; `M2MTokens` and the bearer decorator that carries cached tokens;
 * the `M2MTokenVerifier` over the project's key set; and the middlewares that protect an HTTP API
 * with M2M tokens. `UndiciHttpClient` is an `HttpClient` over undici made for this API.
 */
export * as HttpM2MClients from "./HttpM2MClients.js"
export * as HttpM2MTokens from "./HttpM2MTokens.js"
export * as HttpM2MTokenVerifier from "./HttpM2MTokenVerifier.js"
export * from "./M2MAuthentication.js"
export * as M2MBearer from "./M2MBearer.js"
export * as UndiciHttpClient from "./UndiciHttpClient.js"
