/**
 * One page of `clients.search` over a snapshot of the store.
 *
 * A page starts at the cursor's position in the creation-order tree (O(log n)) and reads forward only
 * as far as it needs: `limit` matches and one more to know whether a next page exists. An unfiltered
 * walk of n clients therefore costs O(n) in all, and a filtered walk reads each client at most about
 * once across its pages.
 *
 * `total` is exact. Unfiltered it is the tree's size, O(1). Filtered it is the page's own count when
 * the page is the whole answer, and otherwise needs one pass over every client; that count is remembered per snapshot and query, so a walk over a store that does not change
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

const union = (lists: ReadonlyArray<ReadonlyArray<string>>): ReadonlySet<string> => new Set(lists.flat())

/** The values every list holds; `undefined` for no lists, which constrains nothing. */
const intersection = (lists: ReadonlyArray<ReadonlyArray<string>>): ReadonlySet<string> | undefined => {
  if (lists.length === 0) return undefined
  let common = new Set(lists[0])
  for (const list of lists.slice(1)) {
    const next = new Set(list)
    common = new Set([...common].filter((value) => next.has(value)))
  }
  return common
}

/**
 * The query compiled once into sets, so that testing a client costs O(1) for its id and its name and
 * O(its scopes) for its scopes, whatever the number of operands and values: testing each client against
 * each operand made a query of 15,000 operands over 10,000 clients hold a server's event loop 3.6 s.
 *
 * `OR`: the client's id is in the union of the id operands, or its name in that of the name operands, or
 * one of its scopes in that of the scope operands. `AND`: its id is in every id operand (their
 * intersection), its name in every name operand, and each scope operand holds one of its scopes. For
 * that last rule each scope maps to a mask of the scope operands holding it, one bit each (core's schema
 * allows at most 32 operands), and the masks of the client's scopes must together cover them all.
 */
const compile = (operator: M2MSearchQuery["operator"], operands: ReadonlyArray<M2MSearchOperand>): Predicate => {
  const values = { client_id: [], client_name: [], scopes: [] } as Record<
    M2MSearchOperand["filter_name"],
    Array<ReadonlyArray<string>>
  >
  for (const operand of operands) values[operand.filter_name].push(operand.filter_value)
  if (operator === "OR") {
    const ids = union(values.client_id)
    const names = union(values.client_name)
    const scopes = union(values.scopes)
    return (client) =>
      ids.has(client.client_id) || names.has(client.client_name) || client.scopes.some((scope) => scopes.has(scope))
  }
  const ids = intersection(values.client_id)
  const names = intersection(values.client_name)
  const masks = new Map<string, number>()
  values.scopes.forEach((list, bit) => {
    for (const scope of list) masks.set(scope, (masks.get(scope) ?? 0) | (1 << bit))
  })
  // `| 0` keeps all 32 bits in the signed form that `|` produces.
  const everyOperand = (2 ** values.scopes.length - 1) | 0
  const holdsEveryScopeOperand = (scopes: ReadonlyArray<string>) => {
    let covered = 0
    for (const scope of scopes) covered |= masks.get(scope) ?? 0
    return covered === everyOperand
  }
  return (client) =>
    (ids === undefined || ids.has(client.client_id)) &&
    (names === undefined || names.has(client.client_name)) &&
    (everyOperand === 0 || holdsEveryScopeOperand(client.scopes))
}

/** The query as a predicate; `undefined` when it filters nothing out (no query, or no operands). */
const predicateOf = (query: M2MSearchQuery | undefined): Either.Either<Predicate | undefined, Violation> => {
  const operands = query?.operands ?? []
  if (query === undefined || operands.length === 0) return Either.right(undefined)
  if (operands.some((operand) => operand.filter_value.length === 0)) {
    return Either.left(violations.missingFilterValue)
  }
  return Either.right(compile(query.operator, operands))
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
      : after === 0 && !more
      // A first page that read to the end has seen every match: no second pass (a query matching
      // nothing, the costliest, reads the store once).
      ? clients.length
      : countMatches(state, request.query!, matches)
    return { clients, total, next_cursor: more ? Cursor.after(last) : null }
  })
