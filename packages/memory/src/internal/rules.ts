/**
 * The rules the store enforces beyond the request schemas of `@stytch-effect/core`, and the API
 * error each broken rule answers with.
 *
 * Core's schemas already reject what no request may carry (an empty client id, a scope with
 * whitespace, a custom secret under 8 characters, a status other than active/inactive, metadata that is
 * not a JSON object), so those never get here. Stytch documents the `error_type`s but not most of the
 * limits behind them; where it is silent the limits below are our choice, picked to be generous to real
 * use and to stop what would break a client elsewhere (a `:` in a client id cannot travel in HTTP Basic
 * auth, a `"` in a scope cannot travel in an OAuth2 `scope` string).
 */
import type { JsonObject } from "@stytch-effect/core"
import { Option } from "effect"

/** Longest client id, name, description, scope and custom secret we accept; most scopes a client may hold. */
export const limits = {
  clientIdLength: 128,
  clientNameLength: 256,
  clientDescriptionLength: 1024,
  scopeLength: 128,
  scopes: 50,
  /** Top-level keys of `trusted_metadata`. */
  metadataKeys: 20,
  /** Bytes of `trusted_metadata` serialised as JSON (UTF-8). */
  metadataBytes: 4096,
  clientSecretLength: 128,
  /**
   * Shannon estimate of a custom secret's entropy: length × the entropy of its character distribution.
   * `12345678` and `password` score 24 and 22 bits; twelve varied characters score about 40.
   */
  clientSecretEntropyBits: 32
} as const

/** The parts of an API error the store decides; the request id and docs URL are added when it fails. */
export interface Violation {
  readonly status_code: number
  readonly error_type: string
  readonly error_message: string
}

const badRequest = (error_type: string, error_message: string): Violation => ({
  status_code: 400,
  error_type,
  error_message
})

/** Every error the store answers with, worded as Stytch words its own. */
export const violations = {
  clientNotFound: {
    status_code: 404,
    error_type: "m2m_client_not_found",
    error_message: "The m2m client requested could not be found."
  },
  /**
   * Stytch's docs disagree on 400 or 409 here; 409 Conflict is what HTTP says a clash with existing
   * state is, and the error class (not the status) is what callers catch.
   */
  duplicateClientId: {
    status_code: 409,
    error_type: "duplicate_m2m_client_id",
    error_message: "An m2m client with this client_id already exists in this project."
  },
  invalidClientId: badRequest(
    "m2m_client_invalid_client_id",
    `client_id must be at most ${limits.clientIdLength} characters, without control characters or ':'.`
  ),
  invalidClientName: badRequest(
    "m2m_client_invalid_client_name",
    `client_name must be at most ${limits.clientNameLength} characters.`
  ),
  invalidClientDescription: badRequest(
    "m2m_client_invalid_client_description",
    `client_description must be at most ${limits.clientDescriptionLength} characters.`
  ),
  clientSecretTooLong: badRequest(
    "client_secret_too_long",
    `client_secret must be at most ${limits.clientSecretLength} characters.`
  ),
  invalidClientSecret: badRequest(
    "m2m_client_invalid_client_secret",
    "client_secret must be printable ASCII characters without spaces."
  ),
  insecureClientSecret: badRequest(
    "insecure_m2m_client_secret",
    "client_secret is too easy to guess: use a longer secret with more varied characters."
  ),
  invalidScope: badRequest(
    "invalid_m2m_client_scope",
    `Each scope must be at most ${limits.scopeLength} printable ASCII characters, without spaces, '"' or '\\'.`
  ),
  tooManyScopes: badRequest(
    "too_many_m2m_client_scopes",
    `An m2m client may hold at most ${limits.scopes} scopes.`
  ),
  metadataTooManyKeys: badRequest(
    "metadata_too_many_keys",
    `trusted_metadata may have at most ${limits.metadataKeys} top-level keys.`
  ),
  metadataTooLarge: badRequest(
    "metadata_too_large",
    `trusted_metadata may be at most ${limits.metadataBytes} bytes as JSON.`
  ),
  alreadyRotating: badRequest(
    "m2m_client_already_rotating_secret",
    "The m2m client is already rotating its secret: cancel or complete that rotation first."
  ),
  notRotating: badRequest(
    "m2m_client_not_rotating_secret",
    "The m2m client is not rotating its secret: start a rotation first."
  ),
  /** An operand with an empty `filter_value` could match nothing; Stytch calls that a missing value. */
  missingFilterValue: badRequest(
    "m2m_search_missing_filter_value",
    "Each search operand needs at least one filter_value."
  ),
  /**
   * Stytch documents no error for a cursor it did not issue; ours names the problem and, like any
   * `error_type` outside core's table, reaches callers as an `ApiError`.
   */
  invalidCursor: badRequest(
    "invalid_search_cursor",
    "The cursor is not one this search returned: start from the first page, then pass each next_cursor."
  ),
  // The token endpoint's OAuth2 errors (RFC 6749 section 5.2), all 400s as Stytch answers them.
  invalidClient: badRequest(
    "invalid_client",
    "Client authentication failed: the client_id and client_secret do not belong to an m2m client."
  ),
  clientInactive: badRequest("unauthorized_client", "The m2m client is inactive and may not get access tokens."),
  scopeNotGranted: (scope: string) =>
    badRequest("invalid_scope", `The m2m client does not hold the requested scope ${JSON.stringify(scope)}.`)
} as const satisfies Record<string, Violation | ((...args: Array<any>) => Violation)>

// RFC 6749's scope-token: %x21 / %x23-5B / %x5D-7E.
const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]+$/
// Any character but control characters: ids with spaces or beyond ASCII are fine, since every layer
// percent-encodes them into their one path segment.
const noControlCharacters = /^\P{Cc}+$/u
// Visible ASCII, which excludes whitespace and control characters.
const visibleAscii = /^[\x21-\x7e]+$/

export const checkClientId = (clientId: string): Option.Option<Violation> =>
  clientId.length > limits.clientIdLength || !noControlCharacters.test(clientId) || clientId.includes(":")
    ? Option.some(violations.invalidClientId)
    : Option.none()

export const checkClientName = (name: string): Option.Option<Violation> =>
  name.length > limits.clientNameLength ? Option.some(violations.invalidClientName) : Option.none()

export const checkClientDescription = (description: string): Option.Option<Violation> =>
  description.length > limits.clientDescriptionLength ? Option.some(violations.invalidClientDescription) : Option.none()

export const checkScopes = (scopes: ReadonlyArray<string>): Option.Option<Violation> =>
  scopes.length > limits.scopes
    ? Option.some(violations.tooManyScopes)
    : scopes.some((scope) => scope.length > limits.scopeLength || !scopeToken.test(scope))
    ? Option.some(violations.invalidScope)
    : Option.none()

export const checkMetadata = (metadata: JsonObject): Option.Option<Violation> =>
  Object.keys(metadata).length > limits.metadataKeys
    ? Option.some(violations.metadataTooManyKeys)
    : Buffer.byteLength(JSON.stringify(metadata), "utf8") > limits.metadataBytes
    ? Option.some(violations.metadataTooLarge)
    : Option.none()

/** Shannon entropy of the character distribution, times the length: a rough measure of guessability. */
export const estimatedEntropyBits = (secret: string): number => {
  const counts = new Map<string, number>()
  for (const char of secret) counts.set(char, (counts.get(char) ?? 0) + 1)
  const length = secret.length
  let bitsPerChar = 0
  for (const count of counts.values()) {
    const p = count / length
    bitsPerChar -= p * Math.log2(p)
  }
  return bitsPerChar * length
}

/** A caller's own secret (core has checked it has at least 8 characters). */
export const checkCustomSecret = (secret: string): Option.Option<Violation> =>
  secret.length > limits.clientSecretLength
    ? Option.some(violations.clientSecretTooLong)
    : !visibleAscii.test(secret)
    ? Option.some(violations.invalidClientSecret)
    : estimatedEntropyBits(secret) < limits.clientSecretEntropyBits
    ? Option.some(violations.insecureClientSecret)
    : Option.none()

/** The first broken rule among several checks, in order. */
export const firstViolation = (
  ...checks: ReadonlyArray<() => Option.Option<Violation>>
): Option.Option<Violation> => {
  for (const check of checks) {
    const found = check()
    if (Option.isSome(found)) return found
  }
  return Option.none()
}
