/**
 * Bulk work: one operation on each of a list of clients, a few at a time, with a progress bar on
 * standard error (when it is a terminal) and a summary at the end of what succeeded and what failed,
 * by error tag.
 *
 * Ctrl-C never leaves an operation half done: each operation is uninterruptible, so an interrupt
 * stops the walk between operations, lets the ones in flight finish and be counted, and the summary
 * still prints (then the process exits 130).
 */
import { Clock, Console, Effect, Either, Exit, Fiber, Ref, Schedule } from "effect"
import { BulkIncomplete, describeFailure, ExitCode, exitCodeOf } from "./errors.js"
import { note, printJson, writeStderr } from "./output.js"

export interface BulkOperation<E, R> {
  /** As the summary says it: `deleted`. */
  readonly done: string
  /** As the progress bar says it: `deleting`. */
  readonly doing: string
  readonly run: (clientId: string) => Effect.Effect<unknown, E, R>
}

interface Tally {
  readonly succeeded: number
  readonly failedByTag: ReadonlyMap<string, number>
}

const failedCount = (tally: Tally) => [...tally.failedByTag.values()].reduce((sum, n) => sum + n, 0)

const tagOf = (error: unknown) =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"

const rate = (count: number, millis: number) => millis <= 0 ? "" : `${(count / (millis / 1000)).toFixed(1)}/s`

const barWidth = 24

const progressLine = (doing: string, total: number, tally: Tally, millis: number) => {
  const failed = failedCount(tally)
  const finished = tally.succeeded + failed
  const filled = total === 0 ? barWidth : Math.round((finished / total) * barWidth)
  return `${doing} [${"█".repeat(filled)}${"░".repeat(barWidth - filled)}] ${finished}/${total}` +
    ` · ok ${tally.succeeded} · failed ${failed} · ${rate(finished, millis)}`
}

const summaryLines = (
  operation: { readonly done: string },
  total: number,
  tally: Tally,
  millis: number,
  interrupted: boolean
): Array<string> => {
  const failed = failedCount(tally)
  const finished = tally.succeeded + failed
  const lines = [
    `${interrupted ? "Interrupted: " : ""}${operation.done} ${tally.succeeded} of ${total} clients` +
    ` in ${(millis / 1000).toFixed(1)} s (${rate(finished, millis) || "-"})`
  ]
  if (failed > 0) {
    const byTag = [...tally.failedByTag].map(([tag, count]) => `${tag} ${count}`).join(", ")
    lines.push(`failed ${failed}: ${byTag}`)
    // No answer or a 5XX says nothing of whether the server carried the operation out (a 429 says it did not).
    const unknown = [...tally.failedByTag].filter(([tag]) =>
      tag !== "RateLimited" && exitCodeOf({ _tag: tag }) === ExitCode.server
    )
    const unknownCount = unknown.reduce((sum, [, count]) => sum + count, 0)
    if (unknownCount > 0) {
      lines.push(
        `outcome unknown for ${unknownCount} (${unknown.map(([tag]) => tag).join(", ")}): ` +
          "they may have been carried out; list the clients to see"
      )
    }
  }
  if (interrupted) {
    lines.push(`not started ${total - finished}; every operation started was finished, none left half done`)
  }
  return lines
}

/**
 * Runs the operation on every client, `concurrency` at a time. Each outcome is a JSON line on standard
 * output with `json`; the summary goes to standard error. Fails with `BulkIncomplete` when any
 * operation failed, after the summary.
 */
export const runBulk = <E, R>(
  operation: BulkOperation<E, R>,
  clientIds: ReadonlyArray<string>,
  options: { readonly json: boolean; readonly concurrency: number }
): Effect.Effect<void, BulkIncomplete, R> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - startedAt)
    const tally = yield* Ref.make<Tally>({ succeeded: 0, failedByTag: new Map() })
    const total = clientIds.length

    const record = (clientId: string, outcome: Either.Either<unknown, E>) =>
      Either.match(outcome, {
        onRight: () =>
          Effect.zipRight(
            Ref.update(tally, (t) => ({ ...t, succeeded: t.succeeded + 1 })),
            options.json ? printJson({ client_id: clientId, outcome: operation.done }) : Effect.void
          ),
        onLeft: (error) =>
          Effect.zipRight(
            Ref.update(tally, (t) => {
              const failedByTag = new Map(t.failedByTag)
              failedByTag.set(tagOf(error), (failedByTag.get(tagOf(error)) ?? 0) + 1)
              return { ...t, failedByTag }
            }),
            options.json
              ? printJson({
                client_id: clientId,
                outcome: "failed",
                error: tagOf(error),
                message: describeFailure(error)
              })
              : note(`${clientId}: ${describeFailure(error)}`)
          )
      })

    // Each operation, once started, runs to its end and is counted: an interrupt waits for it.
    const one = (clientId: string) =>
      Effect.uninterruptible(
        Effect.flatMap(Effect.either(operation.run(clientId)), (outcome) => record(clientId, outcome))
      )

    const showProgress = total > 1 && process.stderr.isTTY === true
    const draw = Effect.gen(function*() {
      const line = progressLine(operation.doing, total, yield* Ref.get(tally), yield* elapsed)
      yield* writeStderr(`\r\x1b[2K${line}`)
    })
    const drawing = showProgress
      ? yield* Effect.fork(Effect.repeat(draw, Schedule.spaced("100 millis")))
      : undefined

    const summarize = (interrupted: boolean) =>
      Effect.gen(function*() {
        if (drawing !== undefined) {
          yield* Fiber.interrupt(drawing)
          yield* draw
          yield* writeStderr("\n")
        }
        const lines = summaryLines(operation, total, yield* Ref.get(tally), yield* elapsed, interrupted)
        yield* Console.error(lines.join("\n"))
      })

    yield* Effect.forEach(clientIds, one, { concurrency: options.concurrency, discard: true }).pipe(
      Effect.onExit((exit) => summarize(Exit.isInterrupted(exit)))
    )
    const { succeeded, failedByTag } = yield* Ref.get(tally)
    const failed = failedCount({ succeeded, failedByTag })
    if (failed > 0) return yield* new BulkIncomplete({ succeeded, failed })
  })
