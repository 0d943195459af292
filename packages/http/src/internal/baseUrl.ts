/**
 * Where requests go: Stytch's live or test API by the project id, or a custom base URL (a custom
 * domain, or the emulator on loopback). Credentials travel in every request, so plain `http://` is
 * accepted only where the traffic cannot leave the machine.
 */
import { projectEnvironment } from "@stytch-effect/core"
import { ConfigError, Effect, Either } from "effect"

export const liveBaseUrl = "https://api.stytch.com"
export const testBaseUrl = "https://test.stytch.com"

const isLoopback = (hostname: string): boolean =>
  hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)

/**
 * The origin (scheme, host and port) requests are sent to, or the rule a custom base URL breaks.
 * A path, query or user info on the custom URL is dropped, as the official SDKs do.
 */
export const resolveBaseUrl = (projectId: string, custom: string | undefined): Either.Either<string, string> => {
  if (custom === undefined) return Either.right(projectEnvironment(projectId) === "live" ? liveBaseUrl : testBaseUrl)
  let url: URL
  try {
    url = new URL(custom)
  } catch {
    return Either.left("must be an absolute URL such as https://api.example.com")
  }
  if (url.protocol === "https:") return Either.right(url.origin)
  if (url.protocol === "http:") {
    return isLoopback(url.hostname)
      ? Either.right(url.origin)
      : Either.left("must use https:// (http:// is accepted only for localhost, 127.0.0.0/8 and [::1])")
  }
  return Either.left("must use https:// (http:// is accepted only for localhost, 127.0.0.0/8 and [::1])")
}

/**
 * A layer's project options checked when it is built: an empty project id or a custom base URL that
 * breaks a rule fails with a `ConfigError` naming the option; otherwise the origin to send to.
 */
export const projectOrigin = (
  options: { readonly projectId: string; readonly baseUrl?: string | undefined }
): Effect.Effect<string, ConfigError.ConfigError> =>
  options.projectId.length === 0
    ? Effect.fail(ConfigError.InvalidData(["projectId"], "Expected a non-empty project id"))
    : Either.mapLeft(
      resolveBaseUrl(options.projectId, options.baseUrl),
      (rule) => ConfigError.InvalidData(["baseUrl"], `The base URL ${rule}`)
    )
