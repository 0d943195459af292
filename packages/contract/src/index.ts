/** The behaviour every `M2MClients` and `M2MTokens` implementation must show, as suites run against each layer. */
export * from "./suite.js"
export * from "./tokenSuite.js"
