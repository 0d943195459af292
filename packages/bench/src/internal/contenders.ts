/**
 * The six ways of getting one client that the `get` and `concurrency` benchmarks compare, each behind
 * the same `() => Promise` so one harness times them all: our http layer over `FetchHttpClient`, over
 * `NodeHttpClient.layerUndici` and over our own `UndiciHttpClient`, raw `undici.request`, raw `fetch`,
 * and the official `stytch` SDK. Each keeps its connections alive and reads the whole answer as JSON;
 * ours also decodes it with the schema, which is part of what it costs.
 */
import { FetchHttpClient } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { M2MClients } from "@stytch-effect/core"
import { HttpM2MClients, UndiciHttpClient } from "@stytch-effect/http"
import { Layer, ManagedRuntime, Redacted } from "effect"
import { Client as StytchClient } from "stytch"
import { Agent, request } from "undici"
import type { EmulatorProcess } from "./emulatorProcess.js"

export interface Contender {
  readonly name: string
  /** Gets the client and resolves with its id, so each contender can be checked to have really got it. */
  readonly get: () => Promise<string>
  readonly close: () => Promise<void>
}

/** The name the ratios are taken against. */
export const baselineName = "raw `undici.request`"

const basicAuth = (emulator: EmulatorProcess) =>
  `Basic ${Buffer.from(`${emulator.projectId}:${emulator.secret}`).toString("base64")}`

const clientIdOf = (json: unknown) => (json as { m2m_client: { client_id: string } }).m2m_client.client_id

const ours = async (
  name: string,
  emulator: EmulatorProcess,
  clientId: string,
  httpClient: Layer.Layer<HttpClient.HttpClient>
): Promise<Contender> => {
  // The defaults a caller gets (retries and the 30 s timeout on): they are part of each call's cost.
  const runtime = ManagedRuntime.make(
    HttpM2MClients.layer({
      projectId: emulator.projectId,
      secret: Redacted.make(emulator.secret),
      baseUrl: emulator.baseUrl
    }).pipe(Layer.provide(httpClient))
  )
  const clients = await runtime.runPromise(M2MClients)
  return {
    name,
    get: () => runtime.runPromise(clients.get({ client_id: clientId })).then((found) => found.m2m_client.client_id),
    close: () => runtime.dispose()
  }
}

const rawUndici = (emulator: EmulatorProcess, clientId: string): Contender => {
  const agent = new Agent({ keepAliveTimeout: 60_000 })
  const url = `${emulator.baseUrl}/v1/m2m/clients/${encodeURIComponent(clientId)}`
  const headers = { authorization: basicAuth(emulator), accept: "application/json" }
  return {
    name: baselineName,
    get: async () => {
      const { body, statusCode } = await request(url, { dispatcher: agent, headers })
      const json = await body.json()
      if (statusCode !== 200) throw new Error(`status ${statusCode}`)
      return clientIdOf(json)
    },
    close: () => agent.close()
  }
}

const rawFetch = (emulator: EmulatorProcess, clientId: string): Contender => {
  const url = `${emulator.baseUrl}/v1/m2m/clients/${encodeURIComponent(clientId)}`
  const headers = { authorization: basicAuth(emulator), accept: "application/json" }
  return {
    name: "raw `fetch`",
    get: async () => {
      const response = await fetch(url, { headers })
      const json = await response.json()
      if (response.status !== 200) throw new Error(`status ${response.status}`)
      return clientIdOf(json)
    },
    close: () => Promise.resolve()
  }
}

/**
 * The SDK refuses a base URL that is not `https://`, and the emulator speaks plain HTTP on loopback. It
 * gets a placeholder https origin and a dispatcher (an option the SDK passes to `fetch` as is) that
 * sends each request to the emulator's origin instead: the SDK builds its URL, headers and body as it
 * would for Stytch, and only the connection goes elsewhere.
 */
const officialSdk = (emulator: EmulatorProcess, clientId: string): Contender => {
  const agent = new Agent({ keepAliveTimeout: 60_000 })
  const toEmulator = agent.compose((dispatch) => (options, handler) =>
    dispatch({ ...options, origin: emulator.baseUrl }, handler)
  )
  const sdk = new StytchClient({
    project_id: emulator.projectId,
    secret: emulator.secret,
    custom_base_url: "https://emulator.invalid",
    // The SDK's types name its own undici (6.x); Node's fetch takes any dispatcher with this shape.
    dispatcher: toEmulator as never
  })
  return {
    name: "official `stytch` SDK (v14)",
    get: () => sdk.m2m.clients.get({ client_id: clientId }).then((found) => found.m2m_client.client_id),
    close: () => agent.close()
  }
}

/** All six, in the order the tables list them. */
export const makeContenders = async (
  emulator: EmulatorProcess,
  clientId: string
): Promise<ReadonlyArray<Contender>> => [
  await ours("ours, `FetchHttpClient.layer`", emulator, clientId, FetchHttpClient.layer),
  await ours("ours, `NodeHttpClient.layerUndici`", emulator, clientId, NodeHttpClient.layerUndici),
  await ours("ours, `UndiciHttpClient.layer`", emulator, clientId, UndiciHttpClient.layer),
  rawUndici(emulator, clientId),
  rawFetch(emulator, clientId),
  officialSdk(emulator, clientId)
]

/** Creates the client every contender gets, through the emulator's HTTP API. */
export const createTarget = async (emulator: EmulatorProcess): Promise<string> => {
  const { body, statusCode } = await request(`${emulator.baseUrl}/v1/m2m/clients`, {
    method: "POST",
    headers: { authorization: basicAuth(emulator), "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "benchmark target",
      client_description: "The client every contender gets",
      scopes: ["read:users", "write:users"],
      trusted_metadata: { team: "billing", tier: 3 }
    })
  })
  const json = await body.json()
  if (statusCode !== 200) throw new Error(`creating the target client answered ${statusCode}`)
  return clientIdOf(json)
}
