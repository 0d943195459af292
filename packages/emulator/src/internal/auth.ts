/**
 * HTTP Basic authentication of the management endpoints: the project id as user, the project secret as
 * password, as Stytch checks them.
 *
 * Both parts are compared in constant time: each side is hashed to a fixed-length SHA-256 digest first,
 * so neither the comparison nor an early length check tells an attacker how much of a guess was right,
 * and both comparisons always run.
 */
import { Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import type { ErrorAnswer } from "./answers.js"
import { unauthorized } from "./answers.js"

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

export interface Credentials {
  readonly projectId: string
  readonly secret: Redacted.Redacted<string>
}

/**
 * Checks an `Authorization` header. Answers `undefined` when it holds the project's credentials, else
 * the 401 to send: `unauthorized_credentials` when the header is missing or not Basic,
 * `invalid_project_id_authentication` for another project id, `invalid_secret_authentication` for the
 * right project id with a wrong secret.
 */
export const makeAuthenticator = (credentials: Credentials) => {
  const projectIdDigest = digest(credentials.projectId)
  const secretDigest = digest(Redacted.value(credentials.secret))
  return (authorization: string | undefined): ErrorAnswer | undefined => {
    const match = authorization === undefined ? null : /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization)
    if (match === null) return unauthorized("unauthorized_credentials")
    const decoded = Buffer.from(match[1]!, "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    if (colon < 0) return unauthorized("unauthorized_credentials")
    const projectIdMatches = timingSafeEqual(digest(decoded.slice(0, colon)), projectIdDigest)
    const secretMatches = timingSafeEqual(digest(decoded.slice(colon + 1)), secretDigest)
    if (!projectIdMatches) return unauthorized("invalid_project_id_authentication")
    if (!secretMatches) return unauthorized("invalid_secret_authentication")
    return undefined
  }
}
