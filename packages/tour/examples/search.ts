import { M2MClientsSearch } from "@stytch-effect/search"
import { Effect, Option, Stream } from "effect"

// Every client holding read:invoices, 500 a page; the next page is fetched while you work on this one.
export const readers = M2MClientsSearch.clients({
  query: { operator: "AND", operands: [{ filter_name: "scopes", filter_value: ["read:invoices"] }] },
  limit: 500
})

export const deactivated = readers.pipe(
  Stream.filter((client) => client.status === "inactive"),
  Stream.runForEach((client) => Effect.log(`inactive: ${client.client_id}`))
)

// Whole pages carry results_metadata; Stream.take asks only the pages it needs.
export const total = M2MClientsSearch.pages({ limit: 1 }, { readAhead: 0 }).pipe(
  Stream.runHead,
  Effect.map(Option.map((page) => page.results_metadata.total))
)
