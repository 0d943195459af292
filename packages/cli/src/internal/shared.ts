/** Options and helpers several commands share. */
import { Args, Options, Prompt } from "@effect/cli"
import { Effect } from "effect"
import { interactive } from "./environment.js"
import { Declined, UsageError } from "./errors.js"

export const json = Options.boolean("json").pipe(
  Options.withDescription("Print JSON, one object a line, for scripts")
)

export const clientId = Args.text({ name: "client-id" }).pipe(Args.withDescription("The client's id"))

export const yes = Options.boolean("yes").pipe(
  Options.withAlias("y"),
  Options.withDescription("Do not ask for confirmation (for scripts)")
)

/**
 * Asks the operator to confirm, unless `--yes`. With nobody at a terminal to ask, it refuses rather
 * than guess: a script says `--yes`.
 */
export const confirmOrFail = (message: string, skip: boolean) =>
  Effect.gen(function*() {
    if (skip) return
    if (!(yield* interactive)) {
      return yield* new UsageError({ message: `${message} Nobody at a terminal to confirm: pass --yes.` })
    }
    const confirmed = yield* Prompt.confirm({ message, initial: false })
    if (!confirmed) return yield* new Declined({ message: "nothing was changed" })
  })
