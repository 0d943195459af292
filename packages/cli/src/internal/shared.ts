/** Options and helpers several commands share. */
import { Args, Options, Prompt } from "@effect/cli"
import { Effect } from "effect"
import { interactive } from "./environment.js"
import { Declined, UsageError } from "./errors.js"

export const json = Options.boolean("json").pipe(
  Options.withDescription("Print JSON, one object a line, for scripts")
)

export const clientId = Args.text({ name: "client-id" }).pipe(Args.withDescription("The client's id"))

/**
 * A variable's name as an error may repeat it. Operators sometimes paste the secret or token itself
 * where its variable's name goes (`--secret-env "$SECRET"`): a value that is not a single-case name is
 * never repeated, so the error does not copy it into logs.
 */
export const variableInMessage = (variable: string, option: string): string =>
  /^(?:[A-Z_][A-Z0-9_]*|[a-z_][a-z0-9_]*)$/.test(variable)
    ? variable
    : `the variable ${option} names (not shown: ${option} takes the name of an environment variable, not a secret or token)`

/**
 * `@effect/cli` drops the empty values of a repeated option, so `--scope "$SCOPE"` with SCOPE unset
 * would get a token with every scope, and `--id "$ID" --status active --yes` would act on every
 * active client. Such a value is refused before the command line is parsed: the option, if any.
 */
export const emptyRepeatedValue = (argv: ReadonlyArray<string>): string | undefined => {
  const clients = argv.indexOf("clients")
  const filtering = clients >= 0 && ["list", "activate", "deactivate", "delete"].includes(argv[clients + 1] ?? "")
  // `--scope` is repeated in every command that has it; `--name` and `--id` only as filters.
  const repeated = filtering ? ["--scope", "--name", "--id"] : ["--scope"]
  return argv.find((arg, i) => repeated.includes(arg) && argv[i + 1] !== undefined && argv[i + 1]!.trim() === "")
}

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
