/**
 * An in-memory `M2MClients` layer with Stytch's semantics, for tests and for the emulator: generated
 * ids and secrets, hashed secrets, the API's errors, stable search cursors and secret rotation; tokens
 * signed by the store's keys, and the verifier over them.
 */
export * from "./ClientCredentials.js"
export * as MemoryM2MClients from "./MemoryM2MClients.js"
export * as MemoryM2MTokenVerifier from "./MemoryM2MTokenVerifier.js"
export * from "./SigningKeys.js"
