/**
 * The `M2MTokens` service over Stytch's token endpoint, for any `HttpClient` the app provides. Each
 * call is authenticated by the M2M client's own id and secret (the request's), never the project
 * secret, so a worker that only gets tokens needs no project secret at all.
 *
 * ```ts
 * const M2MTokensLive = HttpM2MTokens.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * Timeouts, typed transport errors and backoff are the clients layer's (`HttpM2MClients`); as a token
 * request changes nothing, every failure worth another attempt is retried. The client secret is in no
 * error, log line or span, even when the connection fails. No trace headers go to Stytch, and no span
 * per HTTP request is made inside `M2MTokens.token`'s own.
 */
import { HttpClient } from "@effect/platform"
import { M2MTokens } from "@stytch-effect/core"
import type { Schedule, Scope } from "effect"
import { Config, ConfigError, Duration, Effect, Layer, Option } from "effect"
import { baseUrlConfig, retryPolicy, userAgent } from "./HttpM2MClients.js"
import type { RetryOptions } from "./HttpM2MClients.js"
import { attemptClient } from "./internal/apiClient.js"
import { projectOrigin } from "./internal/baseUrl.js"
import type { RetriedError } from "./internal/client.js"
import * as Deadlines from "./internal/deadlines.js"
import { makeTokenService } from "./internal/tokenClient.js"

export interface Options {
  /** The project whose token endpoint is asked (`/v1/public/{projectId}/oauth2/token`). */
  readonly projectId: string
  /**
   * A custom domain, or the emulator (`http://127.0.0.1:4010`), as for `HttpM2MClients`. Default:
   * Stytch's live API for a project id starting `project-live-`, its test API otherwise.
   */
  readonly baseUrl?: string | undefined
  /** `false` for one attempt only; `RetryOptions` to tune the default backoff; or a `Schedule` of your own. */
  readonly retry?: false | RetryOptions | Schedule.Schedule<unknown, RetriedError> | undefined
  /** Each attempt's limit, reading the answer included. Default 30 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** The options besides the project and base URL, which `layerConfig` reads from the environment. */
export type LayerConfigOptions = Omit<Options, "projectId" | "baseUrl">

/**
 * Builds the service over the `HttpClient` in context. A bad `baseUrl` or an empty `projectId` fails
 * with a `ConfigError` naming the option. The scope holds the fiber that keeps the per-attempt timeout.
 */
export const make = (
  options: Options
): Effect.Effect<M2MTokens.Service, ConfigError.ConfigError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const baseUrl = yield* projectOrigin(options)
    const client = yield* attemptClient(baseUrl, { accept: "application/json", "user-agent": userAgent })
    return makeTokenService(client, {
      projectId: options.projectId,
      retry: retryPolicy(options.retry),
      deadlines: yield* Deadlines.make(Duration.decode(options.timeout ?? "30 seconds"))
    })
  })

export const layer = (options: Options): Layer.Layer<M2MTokens, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(M2MTokens, make(options))

/**
 * The project from `STYTCH_PROJECT_ID` and the optional `STYTCH_BASE_URL`. No project secret: the
 * token endpoint takes the client's own credentials, which come with each request.
 */
export const config: Config.Config<Pick<Options, "projectId" | "baseUrl">> = Config.all({
  projectId: Config.nonEmptyString("STYTCH_PROJECT_ID"),
  baseUrl: baseUrlConfig("STYTCH_BASE_URL").pipe(Config.map(Option.getOrUndefined))
})

/** `layer` with the project and base URL read by `config`. */
export const layerConfig = (
  options: LayerConfigOptions = {}
): Layer.Layer<M2MTokens, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(M2MTokens, Effect.flatMap(config, (project) => make({ ...options, ...project })))
