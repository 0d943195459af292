/**
 * Verifying M2M access tokens: our `HttpM2MTokenVerifier` against the official SDK's
 * `m2m.authenticateToken` and raw jose `jwtVerify` over a local key set, on the same tokens, side by
 * side in one run. The key set is served by a loopback server that counts its requests, so the
 * figures also say how often each verifier goes to the network. `BENCH=verify` runs only this one.
 */
import { FetchHttpClient } from "@effect/platform"
import type { M2MTokenVerifier as Verifier } from "@stytch-effect/core"
import { M2MTokenVerifier } from "@stytch-effect/core"
import { HttpM2MTokenVerifier } from "@stytch-effect/http"
import { generateSigningKey } from "@stytch-effect/memory"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import type { JSONWebKeySet } from "jose"
import { createLocalJWKSet, jwtVerify, SignJWT } from "jose"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Client as StytchClient } from "stytch"
import { gc, micros, perSecond, publish, quantile, sorted, times } from "./internal/report.js"

const projectId = "project-test-00000000-0000-4000-8000-000000000000"
const freshTokens = 2_000
const cachedCalls = 50_000
const inFlight = 64

interface Row {
  readonly name: string
  readonly sequentialRate: number
  readonly p50: number
  readonly concurrentRate: number
}

/** `verify` over each token once, one at a time (rate and p50), then 64 at a time (rate). */
const measure = async (name: string, tokens: ReadonlyArray<string>, verify: (token: string) => Promise<unknown>) => {
  for (const token of tokens.slice(0, 100)) await verify(token)
  gc()
  const latencies: Array<number> = []
  let started = performance.now()
  for (const token of tokens) {
    const before = performance.now()
    await verify(token)
    latencies.push(performance.now() - before)
  }
  const sequentialRate = tokens.length / ((performance.now() - started) / 1000)
  gc()
  let next = 0
  started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < tokens.length) await verify(tokens[next++]!)
  }))
  const concurrentRate = tokens.length / ((performance.now() - started) / 1000)
  return { name, sequentialRate, p50: quantile(sorted(latencies), 0.5), concurrentRate } satisfies Row
}

export const run = async (): Promise<string> => {
  const key = await Effect.runPromise(generateSigningKey({ projectId }))
  const jwks = { keys: [key.jwk] }
  const keySet = { requests: 0, broken: false }
  const server = createServer((_, response) => {
    keySet.requests++
    response.writeHead(keySet.broken ? 503 : 200, { "content-type": "application/json" })
    response.end(keySet.broken ? "{}" : JSON.stringify(jwks))
  })
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening))
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const now = Math.floor(Date.now() / 1000)
  const sign = (n: number, kid = key.kid) =>
    new SignJWT({
      sub: "m2m-client-test-00000000-0000-4000-8000-000000000001",
      iss: `stytch.com/${projectId}`,
      aud: [projectId],
      scope: "read:invoices write:invoices",
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: `token-${n}`
    }).setProtectedHeader({ alg: "RS256", typ: "JWT", kid }).sign(key.privateKey)
  const tokens = await Promise.all(Array.from({ length: freshTokens }, (_, n) => sign(n)))

  const requiredScopes = ["read:invoices"]
  const verifierRuntime = (options: Partial<HttpM2MTokenVerifier.Options>) =>
    ManagedRuntime.make(
      HttpM2MTokenVerifier.layer({ projectId, baseUrl, ...options }).pipe(Layer.provide(FetchHttpClient.layer))
    )
  const authenticate = async (runtime: ManagedRuntime.ManagedRuntime<M2MTokenVerifier, unknown>) => {
    const verifier: Verifier.Service = await runtime.runPromise(M2MTokenVerifier)
    return (token: string) => runtime.runPromise(verifier.authenticate(Redacted.make(token), { requiredScopes }))
  }

  // Cold start: the first verification of a new verifier and of a new SDK client, each fetching the keys.
  let started = performance.now()
  const cold = verifierRuntime({})
  await (await authenticate(cold))(tokens[0]!)
  const oursCold = performance.now() - started
  const sdk = new StytchClient({ project_id: projectId, secret: "secret-test-unused", env: `${baseUrl}/` })
  started = performance.now()
  await sdk.m2m.authenticateToken({ access_token: tokens[0]!, required_scopes: requiredScopes })
  const sdkCold = performance.now() - started

  const localKeys = createLocalJWKSet(jwks as unknown as JSONWebKeySet)
  const issuer = `stytch.com/${projectId}`
  const fresh = verifierRuntime({ cacheSize: 0 })
  const oursFresh = await authenticate(fresh)
  await oursFresh(tokens[0]!)
  const requestsBefore = keySet.requests
  const rows = [
    await measure(
      "official `stytch` SDK `m2m.authenticateToken`",
      tokens,
      (token) => sdk.m2m.authenticateToken({ access_token: token, required_scopes: requiredScopes })
    ),
    await measure(
      "raw jose `jwtVerify`, local key set",
      tokens,
      (token) => jwtVerify(token, localKeys, { issuer, audience: projectId, algorithms: ["RS256"] })
    ),
    await measure("ours, fresh tokens (cache off)", tokens, oursFresh)
  ]
  const warmFetches = keySet.requests - requestsBefore

  // A repeated token through the verified-token cache.
  const oursCached = await authenticate(cold)
  const repeated = tokens[1]!
  await oursCached(repeated)
  gc()
  const cachedLatencies: Array<number> = []
  started = performance.now()
  for (let n = 0; n < cachedCalls; n++) {
    const before = performance.now()
    await oursCached(repeated)
    cachedLatencies.push(performance.now() - before)
  }
  const cachedRate = cachedCalls / ((performance.now() - started) / 1000)
  const cachedP50 = quantile(sorted(cachedLatencies), 0.5)

  // 1,000 forged kids, all at once, then again: fetches caused, ours and the SDK's.
  const forged = await Promise.all(Array.from({ length: 1000 }, (_, n) => sign(n, `jwk-forged-${n}`)))
  const forgedFetches = async (verify: (token: string) => Promise<unknown>) => {
    const before = keySet.requests
    await Promise.all(forged.map((token) => verify(token).catch(() => undefined)))
    for (const token of forged) await verify(token).catch(() => undefined)
    return keySet.requests - before
  }
  const oursForged = await forgedFetches(oursCached)
  const sdkForged = await forgedFetches((token) => sdk.m2m.authenticateToken({ access_token: token }))

  // An outage: the key set answers 503; valid tokens (new to the cache) keep verifying.
  keySet.broken = true
  const outage = verifierRuntime({ cacheSize: 0, keys: jwks as Verifier.Options["keys"], cooldown: 0 })
  const outageVerifier: Verifier.Service = await outage.runPromise(M2MTokenVerifier)
  const outcome = async (token: string) => {
    const exit = await outage.runPromiseExit(outageVerifier.authenticate(Redacted.make(token)))
    return exit._tag === "Success" ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error._tag : "defect"
  }
  let unauthorized = 0
  for (const token of tokens.slice(0, 500)) if ((await outcome(token)) !== "ok") unauthorized++
  let unavailable = 0
  for (const token of forged.slice(0, 500)) if ((await outcome(token)) === "KeysUnavailable") unavailable++
  keySet.broken = false

  await Promise.all([cold.dispose(), fresh.dispose(), outage.dispose()])
  server.close()

  const [sdkRow, , oursRow] = rows
  const table = [
    "| verifier | one at a time /s | p50 µs | 64 in flight /s |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((row) =>
      `| ${row.name} | ${perSecond(row.sequentialRate)} | ${micros(row.p50)} | ${perSecond(row.concurrentRate)} |`
    ),
    `| ours, one repeated token (verified-token cache) | ${perSecond(cachedRate)} | ${micros(cachedP50)} | |`
  ].join("\n")
  const met = (ok: boolean) => ok ? "met" : "missed"
  const freshRatio = oursRow!.sequentialRate / sdkRow!.sequentialRate
  const freshRatio64 = oursRow!.concurrentRate / sdkRow!.concurrentRate
  const cachedRatio = cachedRate / oursRow!.sequentialRate
  return publish(
    "verify",
    [
      "### verify: M2M access tokens, RS256 2048, Stytch-shaped claims, `required_scopes: [\"read:invoices\"]`",
      "",
      table,
      "",
      `| other figure | ours | official SDK |`,
      "| --- | ---: | ---: |",
      `| first verification on a cold start (includes the key-set fetch on loopback) | ${micros(oursCold)} µs | ${
        micros(sdkCold)
      } µs |`,
      `| key-set fetches caused by 1,000 forged kids, twice (all at once, then one by one) | ${oursForged} | ${sdkForged} |`,
      `| key-set fetches during the ${freshTokens * 2 + 100} warm verifications above | ${warmFetches} | |`,
      `| key set answering 503: 500 valid tokens refused as invalid (401) / 500 forged kids answered KeysUnavailable (503) | ${unauthorized} / ${unavailable} | |`,
      "",
      `Targets: fresh tokens ≥ 2× the SDK's throughput: ${times(freshRatio)} one at a time, ${
        times(freshRatio64)
      } at 64 in flight (${met(freshRatio >= 2 && freshRatio64 >= 2)}); a cached token ≥ 50× faster than a fresh one: ${
        times(cachedRatio)
      } (${met(cachedRatio >= 50)}); zero fetches per verification once warm: ${warmFetches} (${
        met(warmFetches === 0)
      }); ≤ 1 fetch per cooldown for forged kids: ${oursForged} (${met(oursForged <= 1)}); an outage never turns a ` +
      `valid token into a 401: ${unauthorized} (${met(unauthorized === 0)}).`,
      "",
      `Method: ${freshTokens} distinct tokens signed by one key, served as a JWKS by a loopback \`node:http\` server ` +
      "counting its requests. Each verifier first verifies 100 of them to warm up, then all of them one at a time " +
      `(wall time per call: p50), then all of them again ${inFlight} in flight. Ours runs each verification with ` +
      "`ManagedRuntime.runPromise`, as a request handler would, over `FetchHttpClient`; its fresh-token rows run " +
      "with the verified-token cache off, so every call checks the signature (jose 5 `compactVerify`, on the " +
      "libuv threadpool). The SDK gets the loopback server as its `env` base URL, so its jose remote key set " +
      "fetches from it. Raw jose runs `jwtVerify` over `createLocalJWKSet`, checking issuer, audience and " +
      "algorithm but not scopes."
    ].join("\n")
  )
}
