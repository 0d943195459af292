/**
 * `stytch-m2m secrets ...`: rotating a client's secret. `rotate` is the guided workflow for a person
 * (start, show the next secret once, wait until it is deployed, then finish or cancel); each step is
 * also a command of its own, for scripts and for picking up a rotation left in progress.
 */
import { Command, Prompt } from "@effect/cli"
import { M2MClients } from "@stytch-effect/core"
import type { M2MClientsSecretsRotateStartResponse } from "@stytch-effect/core"
import { Cause, Console, Effect, Option } from "effect"
import { interactive } from "./environment.js"
import { ExitCode, exitCodeOf, UsageError } from "./errors.js"
import { clientDetails, clientView, note, printJson, revealed, showClient } from "./output.js"
import { clientId, json } from "./shared.js"

const steps = (id: string) =>
  `finish it with \`stytch-m2m secrets rotate-finish ${id}\` or discard the new secret with ` +
  `\`stytch-m2m secrets rotate-cancel ${id}\``

/** A failure after which the request may or may not have been carried out: no answer, a 5XX, Ctrl-C. */
const outcomeUnknown = <E>(cause: Cause.Cause<E>) =>
  Cause.isInterrupted(cause) ||
  Option.exists(Cause.failureOption(cause), (error) => exitCodeOf(error) === ExitCode.server)

const showsNext = (id: string) => `\`stytch-m2m clients get ${id}\` shows \`(next …)\` while one is in progress`

/** A start that may have happened leaves a next secret nobody has seen: it can only be cancelled. */
const startedUnseen = (id: string) =>
  note(
    `The rotation may have started without its next secret being shown: ${showsNext(id)}; if so, cancel it ` +
      `with \`stytch-m2m secrets rotate-cancel ${id}\` and start again (never finish it: nobody has that secret).`
  )

const rotateStartOf = (clients: M2MClients.Service, client_id: string) =>
  clients.secrets.rotateStart({ client_id }).pipe(
    Effect.tapErrorCause((cause) => outcomeUnknown(cause) ? startedUnseen(client_id) : Effect.void)
  )

/** The one place the next secret is shown, once. */
const showStarted = (response: M2MClientsSecretsRotateStartResponse, asJson: boolean) =>
  asJson
    ? printJson({
      request_id: response.request_id,
      client: clientView(response.m2m_client),
      next_client_secret: revealed(response.m2m_client.next_client_secret)
    })
    : Console.log(
      `${clientDetails(clientView(response.m2m_client))}\nnext client secret: ${
        revealed(response.m2m_client.next_client_secret)
      }`
    )

const rotateStart = Command.make("rotate-start", { clientId, json }, (args) =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    yield* showStarted(yield* rotateStartOf(clients, args.clientId), args.json)
    yield* note(
      `Store the next secret now: it is shown only this once. Both secrets work until you ${steps(args.clientId)}.`
    )
  })).pipe(Command.withDescription("Start a rotation and print the next secret, the only time it is shown"))

const rotateFinish = Command.make("rotate-finish", { clientId, json }, (args) =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    yield* showClient(yield* clients.secrets.rotate({ client_id: args.clientId }), args.json)
  })).pipe(Command.withDescription("Finish a rotation: the next secret becomes the secret, the old one stops working"))

const rotateCancel = Command.make("rotate-cancel", { clientId, json }, (args) =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    yield* showClient(yield* clients.secrets.rotateCancel({ client_id: args.clientId }), args.json)
  })).pipe(Command.withDescription("Cancel a rotation: the next secret is discarded, the old one keeps working"))

const rotate = Command.make("rotate", { clientId, json }, (args) =>
  Effect.gen(function*() {
    if (!(yield* interactive)) {
      return yield* new UsageError({
        message: "the guided rotation asks questions on a terminal; scripts run rotate-start, then " +
          "rotate-finish or rotate-cancel"
      })
    }
    const clients = yield* M2MClients
    const client_id = args.clientId
    yield* showStarted(yield* rotateStartOf(clients, client_id), args.json)
    yield* note("Store the next secret now: it is shown only this once. Both secrets work until the rotation ends.")
    let sent: "finish" | "cancel" | undefined
    const decided = Effect.gen(function*() {
      const decision = yield* Prompt.select({
        message: "Is the next secret deployed everywhere the client runs?",
        choices: [
          { title: "Yes: finish the rotation", description: "the old secret stops working", value: "finish" },
          { title: "No: cancel the rotation", description: "the next secret is discarded", value: "cancel" },
          { title: "Not yet: leave it in progress", description: "both secrets keep working", value: "leave" }
        ] as const
      })
      if (decision === "leave") return yield* note(`The rotation is left in progress: ${steps(client_id)}.`)
      sent = decision
      const response = decision === "finish"
        ? yield* clients.secrets.rotate({ client_id })
        : yield* clients.secrets.rotateCancel({ client_id })
      yield* showClient(response, args.json)
      yield* note(decision === "finish" ? "Rotation finished." : "Rotation cancelled.")
    })
    // Whatever stops the workflow now, say how to end the rotation: in progress, unless a finish or cancel
    // was sent and its outcome is unknown.
    yield* decided.pipe(
      Effect.tapErrorCause((cause) =>
        sent !== undefined && outcomeUnknown(cause)
          ? note(
            `The rotation may have ${sent === "finish" ? "finished" : "been cancelled"}, or may still be in ` +
              `progress: ${showsNext(client_id)}; to end it, ${steps(client_id)}.`
          )
          : note(`The rotation is still in progress: ${steps(client_id)}.`)
      )
    )
  })).pipe(Command.withDescription("Rotate a client's secret, guided: start, deploy the next secret, then finish"))

export const secretsCommand = Command.make("secrets").pipe(
  Command.withDescription("Rotate client secrets"),
  Command.withSubcommands([rotate, rotateStart, rotateFinish, rotateCancel])
)
