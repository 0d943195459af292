/**
 * The command line's own failures, and the exit code of every failure a command can end with. Scripts
 * branch on these codes, so each is documented in the README and never changes meaning:
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | done |
 * | 1 | refused: the API refused the operation (a taken id, a bad scope, a rotation in the wrong state), or the operator declined |
 * | 2 | usage: bad arguments or options, a request that breaks a rule, missing or invalid credentials |
 * | 3 | not found: no client with that id |
 * | 4 | auth: the project id or secret was refused, or (`token`) the client id and secret |
 * | 5 | server or transport: a 5XX, rate limiting, no answer, or an answer that is not the API's |
 * | 6 | partial failure: bulk work where at least one operation failed (the summary says which) |
 * | 7 | invalid token (`verify`): malformed, a bad signature, an unknown key, expired, too old, not this project's, not an M2M token |
 * | 8 | missing scopes (`verify`): a valid token that does not grant every `--scope` |
 * | 130 | interrupted (Ctrl-C): operations already started were finished, none was left half done |
 */
import { ValidationError } from "@effect/cli"
import { ConfigError, Schema } from "effect"

import type { VerifyError } from "@stytch-effect/core"
import { isInvalidToken } from "@stytch-effect/core"

// The verifier's key outage (`KeysUnavailable`) is a server or transport failure (5), like the API's.

export const ExitCode = {
  ok: 0,
  refused: 1,
  usage: 2,
  notFound: 3,
  auth: 4,
  server: 5,
  partialFailure: 6,
  invalidToken: 7,
  missingScopes: 8,
  interrupted: 130
} as const
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

/** Arguments that parse but do not make sense together (no selection for bulk work, nothing to update). */
export class UsageError extends Schema.TaggedError<UsageError>("@stytch-effect/cli/UsageError")("UsageError", {
  message: Schema.String
}) {}

/** The operator answered no, or was asked nothing because there was nobody to ask. */
export class Declined extends Schema.TaggedError<Declined>("@stytch-effect/cli/Declined")("Declined", {
  message: Schema.String
}) {}

/** Bulk work ended with failures; its summary has already been printed. */
export class BulkIncomplete extends Schema.TaggedError<BulkIncomplete>("@stytch-effect/cli/BulkIncomplete")(
  "BulkIncomplete",
  { succeeded: Schema.Int, failed: Schema.Int }
) {
  override get message() {
    return `${this.failed} of ${this.succeeded + this.failed} operations failed`
  }
}

const codeByTag: Readonly<Record<string, ExitCode>> = {
  ClientNotFound: ExitCode.notFound,
  Unauthorized: ExitCode.auth,
  InvalidClientCredentials: ExitCode.auth,
  ServerError: ExitCode.server,
  RateLimited: ExitCode.server,
  TransportError: ExitCode.server,
  MalformedResponse: ExitCode.server,
  CursorLoop: ExitCode.server,
  ServeError: ExitCode.server,
  KeysUnavailable: ExitCode.server,
  MissingScopes: ExitCode.missingScopes,
  InvalidRequest: ExitCode.usage,
  UsageError: ExitCode.usage,
  BulkIncomplete: ExitCode.partialFailure,
  QuitException: ExitCode.interrupted
}

/** The exit code a failure ends the process with. */
export const exitCodeOf = (error: unknown): ExitCode => {
  if (ValidationError.isValidationError(error) || ConfigError.isConfigError(error)) return ExitCode.usage
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
  // Every tag core counts as an invalid token, whichever it adds later.
  if (isInvalidToken({ _tag: tag } as VerifyError)) return ExitCode.invalidToken
  return codeByTag[tag] ?? ExitCode.refused
}

/**
 * The one line a failure is reported with, on standard error. API errors' own messages carry the
 * `error_type`, the status and the `request_id`; no error of the library holds a secret, and the command
 * line never takes one as an argument, so none can reach this line.
 */
export const describeFailure = (error: unknown): string => {
  if (ConfigError.isConfigError(error)) {
    return `configuration: ${describeConfigError(error)} (or try --emulator, which needs no account)`
  }
  if (typeof error === "object" && error !== null && "_tag" in error) {
    const message = "message" in error && typeof error.message === "string" && error.message !== ""
      ? `: ${error.message}`
      : ""
    return `${String(error._tag)}${message}`.replace(/\s+/g, " ")
  }
  return String(error)
}

/** A configuration failure by variable; a missing secret's own text is `<redacted>`, so none is quoted. */
const describeConfigError = (error: ConfigError.ConfigError): string => {
  switch (error._op) {
    case "And":
      return `${describeConfigError(error.left)}; ${describeConfigError(error.right)}`
    case "Or":
      return `${describeConfigError(error.left)}, or ${describeConfigError(error.right)}`
    case "MissingData":
      return `${error.path.join(".")} is not set`
    case "InvalidData":
    case "SourceUnavailable":
    case "Unsupported":
      return `${error.path.join(".")}: ${error.message}`
  }
}
