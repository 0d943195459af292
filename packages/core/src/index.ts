/**
 * Stytch M2M clients on Effect: the schemas of every object, request and response, the tagged errors
 * of every operation, and the `M2MClients` service that the http and memory layers implement.
 */
export * from "./limits.js"
export * from "./M2MClient.js"
export * from "./M2MClients.js"
export * from "./M2MError.js"
export * from "./M2MSearchQuery.js"
export * from "./Operations.js"
