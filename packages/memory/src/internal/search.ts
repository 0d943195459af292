/**
 * One page of `clients.search` over a snapshot of the store.
 *
 * A page starts at the cursor's position in the creation-order tree (O(log n)) and reads forward only
 * as far as it needs: `limit` matches and one more to know whether a next page exists. An unfiltered
 * walk of n clients therefore costs O(n) in all, and a filtered walk reads each client at most about
 * once across its pages.
 *
 * `total` is exact. Unfiltered it is the tree's size, O(1). Filtered it needs one pass over every
 * client; that count is remembered per snapshot and query, so a walk over a store that does not change
 * counts once, not once a page. Where totals are off (`totals: false`), `total` is -1, as Stytch
 * answers for projects with totals turned off.
 */
import type { M2MClient, M2MSearchOperand, M2MSearchQuery } from "@stytch-effect/core"
import { defaultSearchLimit } from "@stytch-effect/core"
import { Either, RedBlackTree } from "effect"
import * as Cursor from "./cursor.js"
import type { Violation } from "./rules.js"
import { violations } from "./rules.js"
import type { State } from "./state.js"

export interface Page {
  readonly clients: ReadonlyArray<M2MClient>
  readonly total: number
  readonly next_cursor: string | null
}

type Predicate = (client: M2MClient) => boolean

const operandPredicate = (operand: M2MSearchOperand): Predicate => {
  const values = new Set(operand.filter_value)
  switch (operand.filter_name) {
    case "client_id":
      return (client) => values.has(client.client_id)
    case "client_name":
      return (client) => values.has(client.client_name)
    case "scopes":
      return (client) => client.scopes.some((scope) => values.has(scope))
  }
}

/** The query as a predicate; `undefined` when it filters nothing out (no query, or no operands). */
const predicateOf = (query: M2MSearchQuery | undefined): Either.Either<Predicate | undefined, Violation> => {
  const operands = query?.operands ?? []
  if (query === undefined || operands.length === 0) return Either.right(undefined)
  if (operands.some((operand) => operand.filter_value.length === 0)) {
    return Either.left(violations.missingFilterValue)
  }
  const predicates = operands.map(operandPredicate)
  return Either.right(
    query.operator === "AND"
      ? (client) => predicates.every((matches) => matches(client))
      : (client) => predicates.some((matches) => matches(client))
  )
}

/**
 * Filtered totals by snapshot: a new snapshot (any change) drops its predecessor's counts with it. A
 * snapshot keeps the counts of its last few queries only, so distinct queries (each key holds its whole
 * query) cannot pile up while the store is not written to.
 */
const totals = new WeakMap<State, Map<string, number>>()
const queriesCounted = 8

const countMatches = (state: State, query: M2MSearchQuery, matches: Predicate): number => {
  const key = JSON.stringify([query.operator, query.operands ?? []])
  let counts = totals.get(state)
  if (counts === undefined) {
    counts = new Map()
    totals.set(state, counts)
  }
  let total = counts.get(key)
  if (total === undefined) {
    total = 0
    for (const stored of RedBlackTree.values(state.byCreation)) if (matches(stored.client)) total++
    if (counts.size >= queriesCounted) counts.delete(counts.keys().next().value!)
    counts.set(key, total)
  }
  return total
}

export interface SearchRequest {
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
  readonly query?: M2MSearchQuery | undefined
}

export const page = (
  state: State,
  request: SearchRequest,
  options: { readonly totals: boolean }
): Either.Either<Page, Violation> =>
  Either.gen(function*() {
    const after = yield* Either.mapLeft(Cursor.position(request.cursor, state.nextSequence), () =>
      violations.invalidCursor)
    const matches = yield* predicateOf(request.query)
    const limit = request.limit ?? defaultSearchLimit
    const clients: Array<M2MClient> = []
    let last = after
    let more = false
    for (const [, stored] of RedBlackTree.greaterThan(state.byCreation, after)) {
      if (matches !== undefined && !matches(stored.client)) {
        continue
      }
      if (clients.length === limit) {
        more = true
        break
      }
      clients.push(stored.client)
      last = stored.sequence
    }
    const total = !options.totals
      ? -1
      : matches === undefined
      ? RedBlackTree.size(state.byCreation)
      : countMatches(state, request.query!, matches)
    return { clients, total, next_cursor: more ? Cursor.after(last) : null }
  })
