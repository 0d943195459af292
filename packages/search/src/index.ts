/**
 * Streams over Stytch M2M client search that follow `next_cursor` to the end, over any `M2MClients`
 * layer (http, memory).
 */
export * as M2MClientsSearch from "./M2MClientsSearch.js"
