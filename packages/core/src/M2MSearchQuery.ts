/**
 * The query of `clients.search`: an operator and a list of filters, each keyed by `filter_name`.
 * No operands means no filter; no query at all means every client.
 */
import { Schema } from "effect"

const filterValues = Schema.Array(Schema.String)

/** Clients whose id is one of `filter_value`. */
export const ClientIdFilter = Schema.Struct({
  filter_name: Schema.Literal("client_id"),
  filter_value: filterValues
})

/** Clients whose name is exactly one of `filter_value`. */
export const ClientNameFilter = Schema.Struct({
  filter_name: Schema.Literal("client_name"),
  filter_value: filterValues
})

/** Clients holding at least one of the scopes in `filter_value`. */
export const ScopesFilter = Schema.Struct({
  filter_name: Schema.Literal("scopes"),
  filter_value: filterValues
})

export const M2MSearchOperand = Schema.Union(ClientIdFilter, ClientNameFilter, ScopesFilter)
export type M2MSearchOperand = typeof M2MSearchOperand.Type

export const M2MSearchQuery = Schema.Struct({
  operator: Schema.Literal("AND", "OR"),
  /** Only the operator is required: absent or empty, no filter applies. */
  operands: Schema.optionalWith(Schema.Array(M2MSearchOperand), { exact: true })
})
export interface M2MSearchQuery extends Schema.Schema.Type<typeof M2MSearchQuery> {}
