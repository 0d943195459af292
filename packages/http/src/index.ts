/**
 * The `M2MClients` service of `@stytch-effect/core` over Stytch's HTTP API, with retries that never
 * turn one create into two clients; and an `HttpClient` over undici made for that API.
 */
export * as HttpM2MClients from "./HttpM2MClients.js"
export * as UndiciHttpClient from "./UndiciHttpClient.js"
