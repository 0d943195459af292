/**
 * Which clients a command acts on: the filters of `clients list` and of the bulk commands, turned
 * into a search query. Repeating a filter widens it (`--scope a --scope b`: clients holding either);
 * different filters narrow each other, or widen with `--any`. Status is not something Stytch's search
 * filters on, so `--status` is applied to the walk's results here.
 */
import { Options } from "@effect/cli"
import type { M2MClient, M2MSearchOperand, M2MSearchQuery } from "@stytch-effect/core"
import { M2MClientsSearch } from "@stytch-effect/search"
import { Option, Stream } from "effect"

export const filterOptions = {
  scope: Options.text("scope").pipe(
    Options.repeated,
    Options.withDescription("Clients holding this scope; repeat for any of several")
  ),
  name: Options.text("name").pipe(
    Options.repeated,
    Options.withDescription("Clients with exactly this name; repeat for any of several")
  ),
  id: Options.text("id").pipe(Options.repeated, Options.withDescription("Clients with this id; repeat for several")),
  any: Options.boolean("any").pipe(
    Options.withDescription("Clients matching any of the filters given, rather than all of them")
  ),
  status: Options.choice("status", ["active", "inactive"]).pipe(
    Options.optional,
    Options.withDescription("Only clients in this status")
  )
}

export interface Filters {
  readonly scope: ReadonlyArray<string>
  readonly name: ReadonlyArray<string>
  readonly id: ReadonlyArray<string>
  readonly any: boolean
  readonly status: Option.Option<"active" | "inactive">
}

/** Whether any filter was given: bulk work refuses to select every client by omission. */
export const hasFilter = (filters: Filters): boolean =>
  filters.scope.length + filters.name.length + filters.id.length > 0 || Option.isSome(filters.status)

/** The search query of these filters; none when no search filter is given (every client). */
export const queryOf = (filters: Filters): M2MSearchQuery | undefined => {
  const operands: Array<M2MSearchOperand> = []
  if (filters.id.length > 0) operands.push({ filter_name: "client_id", filter_value: filters.id })
  if (filters.name.length > 0) operands.push({ filter_name: "client_name", filter_value: filters.name })
  if (filters.scope.length > 0) operands.push({ filter_name: "scopes", filter_value: filters.scope })
  return operands.length === 0 ? undefined : { operator: filters.any ? "OR" : "AND", operands }
}

/** Every client the filters select, page after page (1000 a page, the most Stytch serves). */
export const selected = (filters: Filters) => {
  const query = queryOf(filters)
  return M2MClientsSearch.clients({ ...(query === undefined ? {} : { query }), limit: 1000 }).pipe(
    Stream.filter((client: M2MClient) =>
      Option.match(filters.status, {
        onNone: () => true,
        onSome: (status) => client.status === status
      })
    )
  )
}

/** The filters in words, for the confirmation prompt. */
export const describeFilters = (filters: Filters): string => {
  const parts = [
    ...(filters.id.length > 0 ? [`id ${filters.id.join(" or ")}`] : []),
    ...(filters.name.length > 0 ? [`name ${filters.name.map((name) => JSON.stringify(name)).join(" or ")}`] : []),
    ...(filters.scope.length > 0 ? [`scope ${filters.scope.join(" or ")}`] : [])
  ]
  const status = Option.match(filters.status, { onNone: () => "", onSome: (status) => `${status} ` })
  return parts.length === 0
    ? `every ${status}client`
    : `${status}clients with ${parts.join(filters.any ? ", or " : ", and ")}`
}
