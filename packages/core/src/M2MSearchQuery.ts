/**
 * The query of `clients.search`: an operator and a list of filters, each keyed by `filter_name`.
 * No operands means no filter; no query at all means every client.
 *
 * Stytch documents no bound on a query's size; ours keeps one search from holding a server for long,
 * and every implementation refuses a bigger one (the http layer before sending it):
 * - at most `maxSearchOperands` (32) operands. There are only three filter names and an `OR` of
 *   operands on one name is one operand with all their values, so more than a handful is only ever
 *   an `AND` over scopes; 32 of those is past any hand-built query, and lets the memory store hold a
 *   scope's operands in one 32-bit mask, so a query costs the same per client however many it has.
 * - at most `maxSearchFilterValues` (1000) values per operand: a page is at most 1000 clients, so
 *   one operand can name every client of a page by id. 32 such operands of ids near 30 characters
 *   already fill the emulator's 1 MiB body.
 */
import { Schema } from "effect"

/** The most operands a search query may have. */
export const maxSearchOperands = 32

/** The most values one operand's `filter_value` may hold. */
export const maxSearchFilterValues = 1000

// Each schema's message speaks the API's words: a schema's own default names its TypeScript type.
const text = Schema.String.annotations({ message: () => "must be a string" })

// A message on a refinement reaches only its own predicate's failures, so the list's goes on the list.
const filterValues = Schema.Array(text).annotations({ message: () => "must be a list of strings" }).pipe(
  Schema.maxItems(maxSearchFilterValues, { message: () => `must hold at most ${maxSearchFilterValues} values` })
)

/**
 * What a filter matches: `client_id`, clients whose id is one of `filter_value`; `client_name`,
 * clients whose name is exactly one of them; `scopes`, clients holding at least one of them.
 */
export const M2MSearchFilterName = Schema.Literal("client_id", "client_name", "scopes").annotations({
  message: () => ({ message: "must be \"client_id\", \"client_name\" or \"scopes\"", override: true })
})
export type M2MSearchFilterName = typeof M2MSearchFilterName.Type

/**
 * One filter. The three names share one shape, so this is one struct rather than a union of three:
 * a union's message for a wrong name would list its members' TypeScript types.
 */
export const M2MSearchOperand = Schema.Struct({
  filter_name: M2MSearchFilterName,
  filter_value: filterValues
}).annotations({ message: () => "must be a JSON object with filter_name and filter_value" })
export type M2MSearchOperand = typeof M2MSearchOperand.Type

export const M2MSearchOperator = Schema.Literal("AND", "OR").annotations({
  message: () => ({ message: "must be \"AND\" or \"OR\"", override: true })
})

export const M2MSearchQuery = Schema.Struct({
  operator: M2MSearchOperator,
  /** Only the operator is required: absent or empty, no filter applies. */
  operands: Schema.optionalWith(
    Schema.Array(M2MSearchOperand).annotations({ message: () => "must be a list of operands" }).pipe(
      Schema.maxItems(maxSearchOperands, { message: () => `must hold at most ${maxSearchOperands} operands` })
    ),
    { exact: true }
  )
}).annotations({ message: () => "must be a JSON object with an operator" })
export interface M2MSearchQuery extends Schema.Schema.Type<typeof M2MSearchQuery> {}
