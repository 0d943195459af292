/**
 * The tour: what a service does with its M2M clients, start to finish, written against the
 * `M2MClients` service alone, so it runs unchanged over the emulator or real Stytch.
 *
 * Every client it makes carries the scope `tour:<runId>`, and every search is filtered by it, so a run
 * against a real project sees and deletes only its own clients.
 */
import type { M2MClientsCreateRequest } from "@stytch-effect/core"
import { M2MClients } from "@stytch-effect/core"
import { M2MClientsSearch } from "@stytch-effect/search"
import { Chunk, Console, Duration, Effect, Ref, Stream } from "effect"

export interface TourOptions {
  /** How many clients to create. */
  readonly clients: number
  /** How many calls in flight at once. */
  readonly concurrency: number
  /** Tags this run's clients (ids, a scope, metadata) so it touches nothing else. */
  readonly runId: string
  /** How many clients to deactivate. */
  readonly deactivate: number
}

export interface TourStep {
  readonly step: string
  readonly count: number
  readonly millis: number
}

export interface TourSummary {
  readonly steps: ReadonlyArray<TourStep>
}

// A mix of scopes, so filtered searches have something to find.
const scopePool = ["read:invoices", "write:invoices", "read:users", "write:users", "admin"] as const

const scopesOf = (index: number): Array<string> =>
  scopePool.filter((_, position) => (index + position) % 3 === 0 || position === index % scopePool.length)

const createRequest = (runId: string, client_id: string, index: number): M2MClientsCreateRequest => ({
  // A client id of our own makes the create safe to retry: see the http package's retry policy.
  client_id,
  client_name: `tour worker ${index}`,
  client_description: "Made by the stytch-effect tour",
  scopes: [`tour:${runId}`, ...scopesOf(index)],
  trusted_metadata: { tour: runId, index }
})

const lastFour = (value: string) => `…${value}`

/** Runs `effect`, recording how long it took and how many things it did. */
export const timed = <E, R>(steps: Ref.Ref<Array<TourStep>>, step: string, effect: Effect.Effect<number, E, R>) =>
  Effect.timed(effect).pipe(
    Effect.tap(([duration, count]) =>
      Ref.update(steps, (done) => [...done, { step, count, millis: Math.round(Duration.toMillis(duration)) }])
    ),
    Effect.map(([, count]) => count)
  )

export const tour = (options: TourOptions) =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    const steps = yield* Ref.make<Array<TourStep>>([])
    const runScope = `tour:${options.runId}`
    const ids = Array.from({ length: options.clients }, (_, index) => `${options.runId}-${index}`)

    // 1. Create, with a progress line as it goes.
    const created = yield* Ref.make(0)
    yield* timed(
      steps,
      "create",
      Effect.forEach(
        ids,
        (client_id, index) =>
          clients.create(createRequest(options.runId, client_id, index)).pipe(
            Effect.zipRight(Ref.updateAndGet(created, (n) => n + 1)),
            Effect.tap((n) =>
              n % 500 === 0 || n === options.clients
                ? Console.log(`  created ${n}/${options.clients} clients`)
                : Effect.void
            )
          ),
        { concurrency: options.concurrency, discard: true }
      ).pipe(Effect.as(options.clients))
    )

    // 2. Stream a filtered search across many pages.
    const writers = {
      operator: "AND" as const,
      operands: [
        { filter_name: "scopes" as const, filter_value: [runScope] },
        { filter_name: "scopes" as const, filter_value: ["write:invoices"] }
      ]
    }
    const pages = yield* Ref.make(0)
    const found = yield* timed(
      steps,
      "search (write:invoices)",
      M2MClientsSearch.pages({ query: writers, limit: 100 }).pipe(
        Stream.tap(() => Ref.update(pages, (n) => n + 1)),
        Stream.runFold(0, (count, page) => count + page.m2m_clients.length)
      )
    )
    yield* Console.log(`  found ${found} clients with write:invoices across ${yield* Ref.get(pages)} pages`)

    // 3. Deactivate some admins; they stay searchable, now inactive.
    const admins = yield* M2MClientsSearch.clients({
      query: {
        operator: "AND",
        operands: [
          { filter_name: "scopes", filter_value: [runScope] },
          { filter_name: "scopes", filter_value: ["admin"] }
        ]
      },
      limit: 100
    }).pipe(Stream.take(options.deactivate), Stream.runCollect)
    yield* timed(
      steps,
      "deactivate",
      Effect.forEach(
        Chunk.toReadonlyArray(admins),
        (client) => clients.update({ client_id: client.client_id, status: "inactive" }),
        { concurrency: options.concurrency }
      ).pipe(Effect.map((updated) => updated.filter((response) => response.m2m_client.status === "inactive").length))
    )
    yield* Console.log(`  deactivated ${admins.length} admin clients`)

    // 4. Rotate one client's secret: start (both secrets work), then rotate (only the new one does).
    const rotated = ids[0]!
    yield* timed(
      steps,
      "rotate secret",
      Effect.gen(function*() {
        const started = yield* clients.secrets.rotateStart({ client_id: rotated })
        const next = started.m2m_client.next_client_secret_last_four ?? "????"
        yield* Console.log(
          `  ${rotated}: rotation started, current secret ${lastFour(started.m2m_client.client_secret_last_four)}, ` +
            `next ${lastFour(next)}`
        )
        const done = yield* clients.secrets.rotate({ client_id: rotated })
        yield* Console.log(
          `  ${rotated}: rotated, current secret now ${lastFour(done.m2m_client.client_secret_last_four)}`
        )
        return done.m2m_client.client_secret_last_four === next && done.m2m_client.next_client_secret_last_four === null
          ? 1
          : 0
      })
    )

    // 5. A client that does not exist: caught by its tag, like any expected failure.
    yield* timed(
      steps,
      "get a missing client",
      clients.get({ client_id: `${options.runId}-missing` }).pipe(
        Effect.as(0),
        Effect.catchTag("ClientNotFound", (error) =>
          Console.log(`  not found, as expected (request ${error.request_id ?? "unknown"})`).pipe(Effect.as(1)))
      )
    )

    // 6. Delete everything this run made.
    yield* timed(
      steps,
      "delete",
      Effect.forEach(ids, (client_id) =>
        clients.delete({ client_id }), {
        concurrency: options.concurrency,
        discard: true
      }).pipe(Effect.as(ids.length))
    )

    return { steps: yield* Ref.get(steps) } satisfies TourSummary
  })

/** The summary as a table for the terminal. */
export const formatSummary = (summary: TourSummary): string => {
  const rows = summary.steps.map(({ count, millis, step }) => [step, String(count), `${millis} ms`])
  const header = ["step", "count", "time"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))
      .join("  ")
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n")
}
