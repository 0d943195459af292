/**
 * A local Stytch M2M server for tests and local development: Stytch's M2M client endpoints over real
 * HTTP on loopback, backed by an in-memory store, with fault injection.
 */
export * from "./Emulator.js"
export * from "./Faults.js"
