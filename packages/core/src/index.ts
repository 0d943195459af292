/**
 * Stytch M2M clients on Effect: the schemas of every object, request and response, the tagged errors
 * of every operation, the `M2MClients`, `M2MTokens` and `M2MTokenVerifier` services that the http and memory layers implement.
 */
export * from "./limits.js"
export * from "./M2MClient.js"
export * from "./M2MClients.js"
export * from "./M2MError.js"
export * from "./M2MSearchQuery.js"
export * from "./M2MTokenCache.js"
export * from "./M2MTokens.js"
export * from "./M2MTokenVerifier.js"
export * from "./Operations.js"
