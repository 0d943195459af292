/**
 * The cost of one token request, one at a time, against the emulator in a child process: our
 * `HttpM2MTokens` (over `FetchHttpClient` and over `NodeHttpClient.layerUndici`) against the official
 * `stytch` SDK's `m2m.token` and a raw `undici.request` of the same form POST, side by side in one run
 * (the method of internal/comparison.ts). Every request makes the emulator sign an RS256 JWT, which is
 * most of each call's time and the same for every contender. `BENCH=tokens` runs only this one.
 */
import { FetchHttpClient } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { M2MTokens } from "@stytch-effect/core"
import { HttpM2MTokens } from "@stytch-effect/http"
import { Layer, ManagedRuntime, Redacted } from "effect"
import { Client as StytchClient } from "stytch"
import { Agent, request } from "undici"
import { compare, comparisonTable } from "./internal/comparison.js"
import type { Contender } from "./internal/contenders.js"
import { baselineName } from "./internal/contenders.js"
import type { EmulatorProcess } from "./internal/emulatorProcess.js"
import { publish, times } from "./internal/report.js"

const rounds = 6
const callsPerRound = 150

const subOf = (accessToken: string): string =>
  (JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString("utf8")) as { sub: string }).sub

/**
 * A secret of the target client for the contenders to get tokens with: the harness creates the client
 * without showing its secret, and a rotation in progress makes the next secret as good as the current.
 */
const secretOf = async (emulator: EmulatorProcess, clientId: string): Promise<string> => {
  const { body, statusCode } = await request(
    `${emulator.baseUrl}/v1/m2m/clients/${encodeURIComponent(clientId)}/secrets/rotate/start`,
    {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${emulator.projectId}:${emulator.secret}`).toString("base64")}`,
        "content-type": "application/json"
      },
      body: "{}"
    }
  )
  const json = await body.json() as { m2m_client: { next_client_secret: string } }
  if (statusCode !== 200) throw new Error(`starting a rotation answered ${statusCode}`)
  return json.m2m_client.next_client_secret
}

const ours = async (
  name: string,
  emulator: EmulatorProcess,
  clientId: string,
  secret: string,
  httpClient: Layer.Layer<HttpClient.HttpClient>
): Promise<Contender> => {
  // The defaults a caller gets (retries and the 30 s timeout on).
  const runtime = ManagedRuntime.make(
    HttpM2MTokens.layer({ projectId: emulator.projectId, baseUrl: emulator.baseUrl }).pipe(Layer.provide(httpClient))
  )
  const tokens = await runtime.runPromise(M2MTokens)
  const tokenRequest = { client_id: clientId, client_secret: Redacted.make(secret), scopes: ["read:users"] }
  return {
    name,
    get: () => runtime.runPromise(tokens.token(tokenRequest)).then((token) => token.client_id),
    close: () => runtime.dispose()
  }
}

const rawUndici = (emulator: EmulatorProcess, clientId: string, secret: string): Contender => {
  const agent = new Agent({ keepAliveTimeout: 60_000 })
  const url = `${emulator.baseUrl}/v1/public/${emulator.projectId}/oauth2/token`
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: secret,
    scope: "read:users"
  }).toString()
  return {
    name: baselineName,
    get: async () => {
      const answer = await request(url, {
        method: "POST",
        dispatcher: agent,
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body
      })
      return subOf(((await answer.body.json()) as { access_token: string }).access_token)
    },
    close: () => agent.close()
  }
}

/** The SDK with a placeholder https origin and a dispatcher to the emulator, as in the `get` benchmark. */
const officialSdk = (emulator: EmulatorProcess, clientId: string, secret: string): Contender => {
  const agent = new Agent({ keepAliveTimeout: 60_000 })
  const toEmulator = agent.compose((dispatch) => (options, handler) =>
    dispatch({ ...options, origin: emulator.baseUrl }, handler)
  )
  const sdk = new StytchClient({
    project_id: emulator.projectId,
    secret: emulator.secret,
    custom_base_url: "https://emulator.invalid",
    dispatcher: toEmulator as never
  })
  return {
    name: "official `stytch` SDK (v14) `m2m.token`",
    get: () =>
      sdk.m2m.token({ client_id: clientId, client_secret: secret, scopes: ["read:users"] }).then((token) =>
        subOf(token.access_token)
      ),
    close: () => agent.close()
  }
}

const makeContenders = async (emulator: EmulatorProcess, clientId: string): Promise<ReadonlyArray<Contender>> => {
  const secret = await secretOf(emulator, clientId)
  return [
    await ours("ours, `FetchHttpClient.layer`", emulator, clientId, secret, FetchHttpClient.layer),
    await ours("ours, `NodeHttpClient.layerUndici`", emulator, clientId, secret, NodeHttpClient.layerUndici),
    rawUndici(emulator, clientId, secret),
    officialSdk(emulator, clientId, secret)
  ]
}

export const run = async (): Promise<string> => {
  const results = await compare({ inFlight: 1, warmupCalls: 150, rounds, callsPerRound }, makeContenders)
  const sdk = results.find((result) => result.name.startsWith("official"))!
  const lines = results.filter((result) => result.name.startsWith("ours")).map((result) =>
    `- ${result.name}: p50 ${times(result.p50 / sdk.p50)} the SDK's, ${
      times(result.perSecond / sdk.perSecond)
    } its calls/s`
  )
  return publish(
    "tokens",
    [
      "### tokens: one token request at a time against the emulator on loopback",
      "",
      comparisonTable(results),
      "",
      ...lines,
      "",
      "Method: the emulator (`packages/emulator/dist/bin.js`) runs in a child process; each call is a form " +
      "POST to `/v1/public/{project_id}/oauth2/token` for the same client and scope, which the emulator " +
      "answers with a freshly signed RS256 JWT (the signature is most of each call's time, and the same for " +
      `all). After 150 warm-up calls each, ${rounds} rounds of ${callsPerRound} calls per contender, the order ` +
      "rotated every round and a forced GC before each block. Ours runs with the layer's defaults and reads " +
      "the token's claims into an `M2MToken`; raw undici and the SDK's result are checked by decoding the " +
      "JWT's `sub`."
    ].join("\n")
  )
}
