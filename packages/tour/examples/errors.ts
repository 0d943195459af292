import { M2MClients } from "@stytch-effect/core"
import { Effect, Option } from "effect"

// Every failure is typed and each method lists exactly the errors it can produce, so catchTag is precise.
export const findClient = (client_id: string) =>
  Effect.flatMap(M2MClients, (clients) => clients.get({ client_id })).pipe(
    Effect.map((response) => Option.some(response.m2m_client)),
    Effect.catchTag("ClientNotFound", () => Effect.succeed(Option.none())),
    // A bad request never leaves the process: the error names the field and the rule.
    Effect.catchTag("InvalidRequest", (error) => Effect.dieMessage(`bug: ${error.field} ${error.rule}`))
  )

export const startRotation = (client_id: string) =>
  Effect.flatMap(M2MClients, (clients) => clients.secrets.rotateStart({ client_id })).pipe(
    Effect.catchTags({
      SecretAlreadyRotating: () => Effect.logWarning(`${client_id} is already rotating`),
      // What is left: Unauthorized, RateLimited, ServerError, ApiError and MalformedResponse (with the
      // status_code and, when Stytch answered, the request_id), TransportError (no answer) and
      // InvalidRequest (refused before sending), each with a readable message.
      ClientNotFound: (error) => Effect.logError(error.message)
    })
  )
