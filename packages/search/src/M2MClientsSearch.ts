/**
 * Streams over `clients.search` that follow `next_cursor` until the results are exhausted: `pages` for
 * callers who want each page's `results_metadata`, `clients` for the clients themselves.
 *
 * They program only against core's `M2MClients` service, so they walk the http layer and the in-memory
 * layer alike. A walk is lazy (`Stream.take(n)` asks only the pages it needs, plus the read-ahead),
 * holds at most the consumer's page and the pages read ahead, and never restarts: a failure on page k
 * ends the stream after pages 1..k-1, and retrying a page is the layer's job.
 */
import type { M2MClient, M2MClientsSearchRequest, M2MClientsSearchResponse, SearchError } from "@stytch-effect/core"
import { defaultSearchLimit, InvalidRequest, M2MClients, Operations, validateRequest } from "@stytch-effect/core"
import { Effect, HashMap, Option, Schema, Stream } from "effect"

/** What to search for: the query (none means every client) and the page size. */
export interface SearchRequest extends Omit<M2MClientsSearchRequest, "cursor"> {}

export interface SearchOptions {
  /**
   * How many pages to fetch beyond the one the consumer is working on, so the next request overlaps the
   * consumer's work. Memory holds at most `readAhead + 1` pages. Default 1; 0 fetches a page only when
   * the consumer asks for it.
   */
  readonly readAhead?: number | undefined
}

/** Stytch's own default page size. */
export const defaultLimit = defaultSearchLimit

export const defaultReadAhead = 1

/**
 * The server handed back a cursor it had already given, so following it would repeat pages forever.
 * The pages up to and including the one that repeated the cursor were emitted before this error.
 */
export class CursorLoop extends Schema.TaggedError<CursorLoop>("@stytch-effect/search/CursorLoop")("CursorLoop", {
  /** The repeated cursor (an opaque position, not a secret). */
  cursor: Schema.String,
  /** The page that handed the cursor back. */
  page: Schema.Int,
  /** The earlier page that first gave it. */
  firstGivenBy: Schema.Int
}) {
  override get message() {
    return `M2MClients.search: page ${this.page} handed back the cursor that page ${this.firstGivenBy} gave; ` +
      `the server's cursors loop`
  }
}

/** Everything a walk can fail with: any page's own error, or a cursor loop. */
export type SearchStreamError = SearchError | CursorLoop

/** Where a walk stands: the cursor to ask with next and every cursor followed so far. */
interface Position {
  /** The number of the page about to be asked for, from 1. */
  readonly page: number
  /** None on the first page. */
  readonly cursor: Option.Option<string>
  /**
   * Each cursor followed before this page's, to the page that gave it. A loop can be any length, so spotting one needs every
   * cursor seen; this grows with the number of pages (total / limit, 100 short strings for 100,000
   * clients at 1000 a page), never with the clients, whose pages are dropped once emitted. Keeping only
   * the last cursor would catch only a page that points at itself, and a constant-memory cycle check
   * (Brent's) would emit repeated pages before noticing.
   */
  readonly followed: HashMap.HashMap<string, number>
}

const start: Position = { page: 1, cursor: Option.none(), followed: HashMap.empty() }

const invalidReadAhead = new InvalidRequest({
  operation: Operations.search.name,
  field: "readAhead",
  rule: "must be a non-negative integer"
})

/**
 * Keeps `readAhead` pages fetched beyond the consumer's. `Stream.buffer` runs the walk in its own
 * fiber, which holds one fetched page while it waits to hand it over, on top of the queue's capacity:
 * a queue of `readAhead - 1` therefore gives exactly `readAhead` pages ahead, and a queue of 0 is a
 * plain hand-off (one page fetched while the consumer works on the previous one).
 */
const readingAhead = (readAhead: number) => <A, E, R>(walk: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  readAhead === 0 ? walk : Stream.buffer(walk, { capacity: readAhead - 1 })

/**
 * Every page of a search, in order: the first asked with no cursor, each next one with the previous
 * page's `next_cursor` and the same query and limit, until `next_cursor` is null or empty. A search with
 * no results is one page with no clients.
 *
 * The request is checked when the stream runs: a `limit` outside 1..1000 (default 100) or a malformed
 * query fails with `InvalidRequest` naming the field, before anything is sent.
 */
export const pages = (
  request: SearchRequest = {},
  options: SearchOptions = {}
): Stream.Stream<M2MClientsSearchResponse, SearchStreamError, M2MClients> =>
  Stream.unwrap(Effect.gen(function*() {
    // `?.` and the object test: an untyped caller's null or string gets the typed failure that
    // `M2MClients.search` gives it, not a TypeError.
    const readAhead = options?.readAhead ?? defaultReadAhead
    if (!Number.isInteger(readAhead) || readAhead < 0) return yield* invalidReadAhead
    const { query, limit } = yield* validateRequest(
      Operations.search,
      typeof request === "object" && request !== null && !Array.isArray(request)
        ? { ...request, limit: request.limit ?? defaultLimit } :
        request
    )
    const service = yield* M2MClients

    const fetch = (
      { cursor, followed, page }: Position
    ): Effect.Effect<readonly [M2MClientsSearchResponse, Option.Option<Position>], SearchStreamError> => {
      const firstGivenBy = Option.flatMap(cursor, (cursor) => HashMap.get(followed, cursor))
      if (Option.isSome(cursor) && Option.isSome(firstGivenBy)) {
        return Effect.fail(new CursorLoop({ cursor: cursor.value, page: page - 1, firstGivenBy: firstGivenBy.value }))
      }
      return service.search({
        ...(query === undefined ? {} : { query }),
        limit,
        ...(Option.isSome(cursor) ? { cursor: cursor.value } : {})
      }).pipe(Effect.map((response) => {
        const next = response.results_metadata.next_cursor
        const after: Option.Option<Position> = next === null || next === ""
          ? Option.none()
          : Option.some({
            page: page + 1,
            cursor: Option.some(next),
            followed: Option.isSome(cursor) ? HashMap.set(followed, cursor.value, page - 1) : followed
          })
        return [response, after] as const
      }))
    }

    return Stream.paginateEffect(start, fetch).pipe(readingAhead(readAhead))
  })).pipe(Stream.withSpan("M2MClients.search.pages"))

/**
 * Every client a search matches, page after page; see `pages` for how the walk goes. Memory stays
 * bounded by the page size and the read-ahead, whatever the total.
 */
export const clients = (
  request: SearchRequest = {},
  options: SearchOptions = {}
): Stream.Stream<M2MClient, SearchStreamError, M2MClients> =>
  pages(request, options).pipe(Stream.mapConcat((page) => page.m2m_clients))
