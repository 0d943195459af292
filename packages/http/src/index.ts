/**
 * The `M2MClients` and `M2MTokens` services of `@stytch-effect/core` over Stytch's HTTP API, with retries that never
 * turn one create into two clients.
 */
export * as HttpM2MClients from "./HttpM2MClients.js"
export * as HttpM2MTokens from "./HttpM2MTokens.js"
export * as M2MBearer from "./M2MBearer.js"
