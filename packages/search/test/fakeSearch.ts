/**
 * A fake `M2MClients` whose `search` serves synthetic pages and records every request it is asked, so
 * tests can count pages fetched and see each cursor followed. Built with `M2MClients.make`, so requests
 * are validated as every real layer validates them.
 */
import type { M2MClientsSearchRequest, SearchError } from "@stytch-effect/core"
import { M2MClient, M2MClients, M2MClientsSearchResponse, ResultsMetadata } from "@stytch-effect/core"
import { Effect, Layer, Ref } from "effect"

export const client = (n: number): M2MClient =>
  new M2MClient({
    client_id: `m2m-client-test-${n}`,
    client_name: `worker-${n}`,
    client_description: "",
    status: "active",
    scopes: ["read:users"],
    client_secret_last_four: "x9Qz",
    next_client_secret_last_four: null,
    trusted_metadata: {}
  })

export const page = (ids: ReadonlyArray<number>, next_cursor: string | null, total = -1) =>
  new M2MClientsSearchResponse({
    request_id: "request-id-test-search",
    status_code: 200,
    m2m_clients: ids.map(client),
    results_metadata: new ResultsMetadata({ total, next_cursor })
  })

/** How the fake answers its `n`th request (from 1). */
export type Answer = (
  request: M2MClientsSearchRequest,
  n: number
) => Effect.Effect<M2MClientsSearchResponse, SearchError>

const notServed = () => Effect.dieMessage("this fake serves clients.search only")

export const fakeSearch = (answer: Answer) =>
  Effect.gen(function*() {
    const requests = yield* Ref.make<ReadonlyArray<M2MClientsSearchRequest>>([])
    const service = M2MClients.make({
      search: (request) =>
        Ref.updateAndGet(requests, (all) => [...all, request]).pipe(
          Effect.flatMap((all) => answer(request, all.length))
        ),
      create: notServed,
      get: notServed,
      update: notServed,
      delete: notServed,
      secrets: { rotateStart: notServed, rotateCancel: notServed, rotate: notServed }
    })
    return { layer: Layer.succeed(M2MClients, service), requests: Ref.get(requests) }
  })

/** `total` clients numbered from 0, served in order; the cursor is the offset of the page it asks for. */
export const directory = (total: number): Answer => (request) => {
  const offset = request.cursor === undefined ? 0 : Number(request.cursor.replace("offset-", ""))
  const limit = request.limit ?? 100
  const end = Math.min(total, offset + limit)
  const ids = Array.from({ length: end - offset }, (_, i) => offset + i)
  return Effect.succeed(page(ids, end < total ? `offset-${end}` : null, total))
}

/** Page `n` holds client `n` and hands back `cursors[n - 1]`, whatever it was asked with. */
export const scripted = (cursors: ReadonlyArray<string | null>): Answer => (_, n) =>
  n <= cursors.length
    ? Effect.succeed(page([n], cursors[n - 1]!))
    : Effect.dieMessage(`the script has ${cursors.length} pages; page ${n} was asked for`)
