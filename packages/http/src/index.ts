/**
 * The `M2MClients` service of `@stytch-effect/core` over Stytch's HTTP API, with retries that never
 * turn one create into two clients; the `M2MTokenVerifier` over the project's key set; and the
 * middlewares that protect an HTTP API with M2M tokens.
 */
export * as HttpM2MClients from "./HttpM2MClients.js"
export * as HttpM2MTokenVerifier from "./HttpM2MTokenVerifier.js"
export * from "./M2MAuthentication.js"
