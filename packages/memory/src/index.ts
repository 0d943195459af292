/**
 * An in-memory `M2MClients` layer with Stytch's semantics, for tests and for the emulator: generated
 * ids and secrets, hashed secrets, the API's errors, stable search cursors and secret rotation.
 */
export * from "./ClientCredentials.js"
export * as MemoryM2MClients from "./MemoryM2MClients.js"
export * from "./SigningKeys.js"
