/** The behaviour every `M2MClients` implementation must show, as one suite run against each layer. */
export * from "./suite.js"
