/**
 * `stytch-m2m token` and `stytch-m2m verify`: get an access token for a client, and authenticate one.
 *
 * Both read their secret (the client secret, the token) from an environment variable or standard
 * input, never from an argument, which would stay in shell history and show in `ps`. The token is
 * printed only to standard output, the one place `token` exists to show it; `verify` shows what a token
 * says, never the token.
 */
import { Args, Command, Options, Prompt } from "@effect/cli"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { M2MTokens, M2MTokenVerifier } from "@stytch-effect/core"
import type { AuthenticatedClient, M2MToken } from "@stytch-effect/core"
import { Config, Console, DateTime, Duration, Effect, Option, ParseResult, Redacted, Schema } from "effect"
import { UsageError } from "./errors.js"
import { fieldList, note, printJson, revealed, textDoc } from "./output.js"
import { json, variableInMessage } from "./shared.js"

/** The variable `token` reads the client secret from unless told otherwise. */
export const defaultSecretVariable = "STYTCH_CLIENT_SECRET"

/** Secrets and tokens are short; anything longer on standard input is not one. */
const maxInputBytes = 64 * 1024

/**
 * A secret from standard input: asked for with a hidden prompt when it is a terminal, otherwise the
 * first line of what is piped in (`printf %s "$SECRET" |`, `< file`).
 */
const fromStdin = (what: string) =>
  Effect.gen(function*() {
    if (process.stdin.isTTY === true) return yield* Prompt.hidden({ message: `${what}:` })
    const input = yield* NodeStream.toString(() => process.stdin, {
      maxBytes: maxInputBytes,
      onFailure: () => new UsageError({ message: `standard input could not be read as ${what.toLowerCase()}` })
    })
    const line = input.split(/\r?\n/, 1)[0]!.trim()
    if (line === "") return yield* new UsageError({ message: `no ${what.toLowerCase()} on standard input` })
    return Redacted.make(line)
  })

/** A secret from an environment variable; unset or empty, a usage error saying where else it can come from. */
const fromVariable = (variable: string, option: string, what: string, otherwise: string) =>
  Config.redacted(Config.nonEmptyString(variable)).pipe(
    Effect.mapError(() =>
      new UsageError({ message: `${what}: ${variableInMessage(variable, option)} is not set; ${otherwise}` })
    )
  )

const scopes = (description: string) =>
  Options.text("scope").pipe(Options.repeated, Options.withDescription(description))

const iso = (time: DateTime.Utc) => DateTime.formatIso(time)

const token = Command.make("token", {
  clientId: Args.text({ name: "client-id" }).pipe(Args.withDescription("The client to get a token for")),
  scopes: scopes("A scope the token should grant (the client must hold it); repeat for several. Default: all"),
  secretEnv: Options.text("secret-env").pipe(
    Options.optional,
    Options.withDescription(`Read the client secret from this environment variable (default ${defaultSecretVariable})`)
  ),
  secretStdin: Options.boolean("secret-stdin").pipe(
    Options.withDescription("Read the client secret from standard input (a hidden prompt at a terminal)")
  ),
  json
}, (args) =>
  Effect.gen(function*() {
    if (args.secretStdin && Option.isSome(args.secretEnv)) {
      return yield* new UsageError({ message: "--secret-env and --secret-stdin contradict each other" })
    }
    const client_secret = args.secretStdin
      ? yield* fromStdin("Client secret")
      : yield* fromVariable(
        Option.getOrElse(args.secretEnv, () => defaultSecretVariable),
        "--secret-env",
        "the client secret",
        "name another variable with --secret-env, or pipe it in with --secret-stdin"
      )
    const tokens = yield* M2MTokens
    const issued = yield* tokens.token({ client_id: args.clientId, client_secret, scopes: args.scopes })
    yield* args.json ? printJson(tokenView(issued)) : Console.log(revealed(issued.access_token))
    yield* note(
      `Token for ${issued.client_id} (${issued.scopes.join(" ") || "no scopes"}), ` +
        `expires ${iso(issued.expires_at)}.`
    )
  })).pipe(
    Command.withDescription(
      "Print an access token for a client, on standard output only; the client secret comes from an " +
        "environment variable or standard input, never an argument"
    )
  )

/** The one place an access token is shown, in a field of its own. */
const tokenView = (issued: M2MToken) => ({
  request_id: issued.request_id,
  access_token: revealed(issued.access_token),
  token_type: issued.token_type,
  expires_in: issued.expires_in,
  client_id: issued.client_id,
  scopes: issued.scopes,
  expires_at: iso(issued.expires_at)
})

/** A duration as Effect writes them: `90 seconds`, `10 minutes`, `1 hour`. */
const DurationText = Schema.transformOrFail(Schema.String, Schema.DurationFromSelf, {
  strict: true,
  decode: (text, _, ast) =>
    // Effect reads a negative duration as zero, which would refuse every token but the newest.
    Option.match(text.trim().startsWith("-") ? Option.none() : Duration.decodeUnknown(text.trim()), {
      onNone: () =>
        ParseResult.fail(
          new ParseResult.Type(ast, text, "Expected a duration such as \"10 minutes\" or \"90 seconds\"")
        ),
      onSome: ParseResult.succeed
    }),
  encode: (duration) => ParseResult.succeed(Duration.format(duration))
})

const verify = Command.make("verify", {
  scopes: scopes("A scope the token must grant; repeat for several"),
  maxAge: Options.text("max-age").pipe(
    Options.withSchema(DurationText),
    Options.optional,
    Options.withDescription("Refuse a token issued longer ago than this (\"10 minutes\")")
  ),
  tokenEnv: Options.text("token-env").pipe(
    Options.optional,
    Options.withDescription("Read the token from this environment variable instead of standard input")
  ),
  json
}, (args) =>
  Effect.gen(function*() {
    const accessToken = yield* Option.match(args.tokenEnv, {
      onNone: () => fromStdin("Access token"),
      onSome: (variable) =>
        fromVariable(variable, "--token-env", "the access token", "or leave out --token-env to pipe it in")
    })
    const verifier = yield* M2MTokenVerifier
    const client = yield* verifier.authenticate(accessToken, {
      requiredScopes: args.scopes,
      maxTokenAge: Option.getOrUndefined(args.maxAge)
    })
    yield* args.json ? printJson(clientView(client)) : Console.log(clientDetails(client))
  })).pipe(
    Command.withDescription(
      "Authenticate an access token (from standard input or an environment variable) and show the client, " +
        "scopes, custom claims and times it carries"
    )
  )

const clientView = (client: AuthenticatedClient) => ({
  client_id: client.client_id,
  scopes: client.scopes,
  custom_claims: client.custom_claims,
  issued_at: iso(client.issued_at),
  expires_at: iso(client.expires_at)
})

const clientDetails = (client: AuthenticatedClient) =>
  fieldList([
    ["client id", textDoc(client.client_id)],
    ["scopes", textDoc(client.scopes.join(" "))],
    ["custom claims", textDoc(JSON.stringify(client.custom_claims))],
    ["issued at", textDoc(iso(client.issued_at))],
    ["expires at", textDoc(iso(client.expires_at))]
  ])

export const tokenCommand = token
export const verifyCommand = verify
