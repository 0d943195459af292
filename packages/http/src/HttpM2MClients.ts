/**
 * The `M2MClients` service over Stytch's HTTP API, for any `HttpClient` the app provides
 * (`FetchHttpClient.layer`, or `NodeHttpClient.layerUndici` in Node apps).
 *
 * ```ts
 * const M2MClientsLive = HttpM2MClients.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * Requests carry HTTP Basic auth (the project secret leaves `Redacted` only where the header is set),
 * an honest `User-Agent` and no trace headers unless asked. Failures worth another attempt (5XX, 429,
 * dropped connections, timeouts) are retried with jittered exponential backoff; an operation that is
 * not safe to repeat is retried only when the server certainly did nothing (see the README).
 */
import type { HttpClient } from "@effect/platform"
import { M2MClients, projectEnvironment } from "@stytch-effect/core"
import type { Scope } from "effect"
import { Config, ConfigError, Duration, Effect, Either, Encoding, Layer, Option, Redacted, Schedule } from "effect"
import { attemptClient } from "./internal/apiClient.js"
import { projectOrigin, resolveBaseUrl } from "./internal/baseUrl.js"
import type { ProveSecret, RetriedError, RetryPolicy } from "./internal/client.js"
import { makeService } from "./internal/client.js"
import * as Deadlines from "./internal/deadlines.js"
import { makeTokenService, proveByToken } from "./internal/tokenClient.js"
import { version } from "./internal/version.js"

export { liveBaseUrl, testBaseUrl } from "./internal/baseUrl.js"
export type { ProveSecret, RetriedError } from "./internal/client.js"

/** Sent with every request. */
export const userAgent = `stytch-effect-http/${version}`

/** The default backoff, tuned with these options; or pass your own `Schedule` as `retry`. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 3. */
  readonly times?: number | undefined
  /** The first delay, doubled for each retry and jittered by ±20%. Default 200 ms. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** No delay is longer. Default 5 seconds. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /**
   * A `Retry-After` up to this long is waited for; a longer one ends the retries, and the caller gets
   * the `RateLimited` (or `ServerError`) with `retry_after_millis`. Default 10 seconds.
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

export interface Options {
  readonly projectId: string
  readonly secret: Redacted.Redacted<string>
  /**
   * A custom domain, or the emulator (`http://127.0.0.1:4010`). Only its scheme, host and port are
   * kept; `http://` is accepted for loopback hosts only. Default: Stytch's live API for a project id
   * starting `project-live-`, its test API otherwise.
   */
  readonly baseUrl?: string | undefined
  /**
   * `false` for one attempt only; `RetryOptions` to tune the default backoff; or a `Schedule` of your
   * own, which is asked only about failures worth another attempt and is still held to `Retry-After`
   * (up to 10 seconds) and to the rule that an unsafe operation is not repeated.
   */
  readonly retry?: false | RetryOptions | Schedule.Schedule<unknown, RetriedError> | undefined
  /** Each attempt's limit, reading the answer included. Default 30 seconds, near Stytch's own. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Send trace headers (`traceparent`, `b3`) to Stytch. Default `false`: they are ours, not Stytch's. */
  readonly tracerPropagation?: boolean | undefined
  /**
   * An `http.client` span per HTTP request inside each operation's span, with the method, URL and
   * status but no header. Default `false`, as the operation's span already carries the status and the
   * attempt count, unless `tracerPropagation` is on: the trace headers sent are the request span's.
   */
  readonly requestSpans?: boolean | undefined
  /**
   * A create without a `client_id` is sent with one generated here, `m2m-client-<test|live>-<uuid>`:
   * the shape of the ids Stytch generates itself (so ids look alike whoever made them, and Stytch's
   * rules for custom ids accept it), from `crypto.randomUUID()` (122 random bits, so nobody can guess
   * or take it first). The create can then be repeated like any other, a lost answer is recovered the
   * same way, and an error whose outcome is unknown names the id. Default `true`; with `false` the
   * server chooses the id, and such a create is not repeated once the server may have acted.
   */
  readonly generateClientIds?: boolean | undefined
  /**
   * Proves that a secret is a client's. Asked only when a repeated create with your own `client_id`
   * and `client_secret` finds the id taken: the create succeeds if the secret is proven, and fails with
   * the `DuplicateClientId` otherwise. Default: a token request with the secret (`M2MTokens.token`),
   * which only the client's own secret passes.
   */
  readonly proveSecret?: ProveSecret | undefined
}

/** The options besides the credentials and base URL, which `layerConfig` reads from the environment. */
export type LayerConfigOptions = Omit<Options, "projectId" | "secret" | "baseUrl">

const defaultMaxRetryAfter = Duration.seconds(10)

/** @internal The policy `retry` stands for; shared with `HttpM2MTokens`. */
export const retryPolicy = (retry: Options["retry"]): RetryPolicy | undefined => {
  if (retry === false) return undefined
  if (Schedule.isSchedule(retry)) {
    return { schedule: retry as Schedule.Schedule<unknown, RetriedError>, maxRetryAfter: defaultMaxRetryAfter }
  }
  const maxDelay = Duration.decode(retry?.maxDelay ?? "5 seconds")
  return {
    schedule: Schedule.exponential(retry?.baseDelay ?? "200 millis", 2).pipe(
      Schedule.jittered,
      Schedule.modifyDelay((_, delay) => Duration.min(delay, maxDelay)),
      Schedule.intersect(Schedule.recurs(retry?.times ?? 3))
    ),
    maxRetryAfter: Duration.decode(retry?.maxRetryAfter ?? defaultMaxRetryAfter)
  }
}

/**
 * Builds the service over the `HttpClient` in context. A bad `baseUrl` or an empty `projectId` fails
 * with a `ConfigError` naming the option. The scope holds the fiber that keeps the per-attempt timeout.
 */
export const make = (
  options: Options
): Effect.Effect<M2MClients.Service, ConfigError.ConfigError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const baseUrl = yield* projectOrigin(options)
    const credentials = Redacted.make(Encoding.encodeBase64(`${options.projectId}:${Redacted.value(options.secret)}`))
    // The secret leaves Redacted only here, in the header built once for every request.
    const headers = { accept: "application/json", "user-agent": userAgent }
    const decorated = yield* attemptClient(baseUrl, {
      ...headers,
      authorization: `Basic ${Redacted.value(credentials)}`
    })
    const retry = retryPolicy(options.retry)
    const deadlines = yield* Deadlines.make(Duration.decode(options.timeout ?? "30 seconds"))
    // A repeated create's secret is proven the one way that shows it works: a token request with it.
    const tokens = makeTokenService(yield* attemptClient(baseUrl, headers), {
      projectId: options.projectId,
      retry,
      deadlines
    })
    // Each operation has its span already (`M2MClients.get`, with the status and attempts); a span per
    // request inside it would double the tracing cost of every call. Trace headers come only from that
    // request span, so without it there is nothing to propagate.
    const environment = projectEnvironment(options.projectId)
    return makeService(decorated, {
      retry,
      deadlines,
      generateClientId: options.generateClientIds === false
        ? undefined
        : () => `m2m-client-${environment}-${globalThis.crypto.randomUUID()}`,
      proveSecret: options.proveSecret ?? proveByToken(tokens),
      credentials: [options.secret, credentials],
      requestSpans: (options.requestSpans ?? options.tracerPropagation ?? false)
        ? { propagate: options.tracerPropagation ?? false }
        : undefined
    })
  })

export const layer = (options: Options): Layer.Layer<M2MClients, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(M2MClients, make(options))

/**
 * @internal A custom base URL's rule checked while loading, so the error names the variable; shared
 * with `HttpM2MTokens`.
 */
export const baseUrlConfig = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.nonEmptyString(name)).pipe(
    Config.mapOrFail(Option.match({
      onNone: () => Either.right(Option.none()),
      // Which project it is does not matter to the rules of a custom URL.
      onSome: (url) =>
        Either.match(resolveBaseUrl("", url), {
          onLeft: (rule) => Either.left(ConfigError.InvalidData([name], `Expected a base URL that ${rule}`)),
          onRight: (origin) => Either.right(Option.some(origin))
        })
    }))
  )

/**
 * The credentials from `STYTCH_PROJECT_ID`, `STYTCH_SECRET` (kept `Redacted`) and the optional
 * `STYTCH_BASE_URL`. A missing or empty id or secret fails with a `ConfigError` naming the variable;
 * an empty `STYTCH_BASE_URL` counts as unset.
 */
export const config: Config.Config<Pick<Options, "projectId" | "secret" | "baseUrl">> = Config.all({
  projectId: Config.nonEmptyString("STYTCH_PROJECT_ID"),
  secret: Config.redacted(Config.nonEmptyString("STYTCH_SECRET")),
  baseUrl: baseUrlConfig("STYTCH_BASE_URL").pipe(Config.map(Option.getOrUndefined))
})

/** `layer` with the credentials and base URL read by `config`. */
export const layerConfig = (
  options: LayerConfigOptions = {}
): Layer.Layer<M2MClients, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(M2MClients, Effect.flatMap(config, (credentials) => make({ ...options, ...credentials })))
