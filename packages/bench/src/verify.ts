/**
 * Verifying M2M access tokens: our `HttpM2MTokenVerifier` against the official SDK's
 * `m2m.authenticateToken` and raw jose `jwtVerify` over a local key set, on the same tokens, side by
 * side in one run. The key set is served by a loopback server that counts its requests, so the
 * figures also say how often each verifier goes to the network. Two signature-only rows put jose 5's
 * `compactVerify` beside `node:crypto`'s synchronous `verify`, the reason the verifier checks RS256
 * signatures itself (`packages/core/src/internal/jws.ts`). Cold starts run in fresh processes
 * (`verify-cold.ts`). `BENCH=verify` runs only this one.
 */
import { FetchHttpClient } from "@effect/platform"
import type { M2MTokenVerifier as Verifier } from "@stytch-effect/core"
import { M2MTokenVerifier } from "@stytch-effect/core"
import { HttpM2MTokenVerifier } from "@stytch-effect/http"
import { generateSigningKey } from "@stytch-effect/memory"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import type { JSONWebKeySet } from "jose"
import { compactVerify, createLocalJWKSet, importJWK, jwtVerify, SignJWT } from "jose"
import { execFile } from "node:child_process"
import { createPublicKey, hash, verify as rsaVerify } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { promisify } from "node:util"
import { Client as StytchClient } from "stytch"
import { gc, micros, perSecond, publish, quantile, sorted, times } from "./internal/report.js"

const projectId = "project-test-00000000-0000-4000-8000-000000000000"
const freshTokens = 1_000
const cachedCalls = 20_000
/** Each contender is measured this many times, in turns, and its medians reported: the machine is shared. */
const rounds = 3
const coldRuns = 5
const inFlight = 64
const requiredScopes = ["read:invoices"]

interface Row {
  readonly name: string
  readonly sequentialRate: number
  readonly p50: number
  readonly concurrentRate: number | undefined
}

/** `verify` over each token once, one at a time (rate and p50), then 64 at a time (rate). */
const measure = async (
  name: string,
  tokens: ReadonlyArray<string>,
  verify: (token: string) => Promise<unknown>,
  concurrently = true
): Promise<Row> => {
  for (const token of tokens) await verify(token)
  gc()
  const latencies: Array<number> = []
  let started = performance.now()
  for (const token of tokens) {
    const before = performance.now()
    await verify(token)
    latencies.push(performance.now() - before)
  }
  const sequentialRate = tokens.length / ((performance.now() - started) / 1000)
  if (!concurrently) return { name, sequentialRate, p50: quantile(sorted(latencies), 0.5), concurrentRate: undefined }
  gc()
  let next = 0
  started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < tokens.length) await verify(tokens[next++]!)
  }))
  const concurrentRate = tokens.length / ((performance.now() - started) / 1000)
  return { name, sequentialRate, p50: quantile(sorted(latencies), 0.5), concurrentRate } satisfies Row
}

/**
 * `measure` for an Effect, the way a request handler runs it: inside a fiber that is already running
 * (`yield*`), with no `runPromise` per call. The whole loop is one `runPromise`.
 */
const measureInFiber = <A, E>(
  name: string,
  tokens: ReadonlyArray<string>,
  verify: (token: string) => Effect.Effect<A, E>,
  concurrently = true
) =>
  Effect.runPromise(Effect.gen(function*() {
    for (const token of tokens) yield* verify(token)
    gc()
    const latencies: Array<number> = []
    let started = performance.now()
    for (const token of tokens) {
      const before = performance.now()
      yield* verify(token)
      latencies.push(performance.now() - before)
    }
    const sequentialRate = tokens.length / ((performance.now() - started) / 1000)
    if (!concurrently) return { name, sequentialRate, p50: quantile(sorted(latencies), 0.5), concurrentRate: undefined }
    gc()
    started = performance.now()
    yield* Effect.forEach(tokens, verify, { concurrency: inFlight, discard: true })
    const concurrentRate = tokens.length / ((performance.now() - started) / 1000)
    return { name, sequentialRate, p50: quantile(sorted(latencies), 0.5), concurrentRate } satisfies Row
  }))

/** Each measurement `rounds` times, taking turns, so a busy spell hits all of them alike; the medians. */
const inTurns = async (measurements: ReadonlyArray<() => Promise<Row>>): Promise<Array<Row>> => {
  const taken: Array<Array<Row>> = measurements.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (const [n, measurement] of measurements.entries()) taken[n]!.push(await measurement())
  }
  const median = (values: ReadonlyArray<number | undefined>) =>
    values[0] === undefined ? undefined : quantile(sorted(values as Array<number>), 0.5)
  return taken.map((runs) => ({
    name: runs[0]!.name,
    sequentialRate: median(runs.map((run) => run.sequentialRate))!,
    p50: median(runs.map((run) => run.p50))!,
    concurrentRate: median(runs.map((run) => run.concurrentRate))
  }))
}

/**
 * Microseconds per call of `step`, over `calls` calls in a tight loop after as many to warm up: the
 * median of `rounds`. A step that returns a promise is awaited; any other is not, so no microtask is
 * counted against it.
 */
const perCall = async (calls: number, step: () => unknown): Promise<number> => {
  const taken: Array<number> = []
  const awaited = step() instanceof Promise
  for (let round = 0; round <= rounds; round++) {
    const started = performance.now()
    if (awaited) { for (let n = 0; n < calls; n++) await step() }
    else for (let n = 0; n < calls; n++) step()
    if (round > 0) taken.push(((performance.now() - started) * 1000) / calls)
  }
  return quantile(sorted(taken), 0.5)
}

/**
 * `perCall` for a verifier's `authenticate` over `tokens` (each wrapped in a `Redacted`, as a caller
 * hands it over), inside one running fiber: µs per call, the median of `rounds`.
 */
const perCallInFiber = (verifier: Verifier.Service, tokens: ReadonlyArray<string>): Promise<number> =>
  Effect.runPromise(Effect.gen(function*() {
    const taken: Array<number> = []
    for (let round = 0; round <= rounds; round++) {
      const started = performance.now()
      for (const token of tokens) yield* verifier.authenticate(Redacted.make(token), { requiredScopes })
      if (round > 0) taken.push(((performance.now() - started) * 1000) / tokens.length)
    }
    return quantile(sorted(taken), 0.5)
  }))

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

  const verifierRuntime = (options: Partial<HttpM2MTokenVerifier.Options>) =>
    ManagedRuntime.make(
      HttpM2MTokenVerifier.layer({ projectId, baseUrl, ...options }).pipe(Layer.provide(FetchHttpClient.layer))
    )
  const authenticate = async (runtime: ManagedRuntime.ManagedRuntime<M2MTokenVerifier, unknown>) => {
    const verifier: Verifier.Service = await runtime.runPromise(M2MTokenVerifier)
    return (token: string) => runtime.runPromise(verifier.authenticate(Redacted.make(token), { requiredScopes }))
  }

  const issuer = `stytch.com/${projectId}`
  const localKeys = createLocalJWKSet(jwks as unknown as JSONWebKeySet)
  const joseKey = await importJWK(key.jwk as unknown as Parameters<typeof importJWK>[0], "RS256")
  const nodeKey = createPublicKey({ key: key.jwk as unknown as import("node:crypto").JsonWebKey, format: "jwk" })
  const sdk = new StytchClient({ project_id: projectId, secret: "secret-test-unused", env: `${baseUrl}/` })
  await sdk.m2m.authenticateToken({ access_token: tokens[0]!, required_scopes: requiredScopes })
  const fresh = verifierRuntime({ cacheSize: 0 })
  const oursFresh = await authenticate(fresh)
  await oursFresh(tokens[0]!)
  const freshVerifier: Verifier.Service = await fresh.runPromise(M2MTokenVerifier)
  // The signature-only rows: what checking on the thread pool, the one way to a second core, could give.
  const signatureParts = (token: string) => {
    const dot = token.lastIndexOf(".")
    return [Buffer.from(token.slice(0, dot), "latin1"), Buffer.from(token.slice(dot + 1), "base64url")] as const
  }
  const poolCheck = (token: string, done: (error: Error | null, valid: boolean) => void) => {
    const [signingInput, signature] = signatureParts(token)
    rsaVerify("RSA-SHA256", signingInput, nodeKey, signature, done)
  }
  const poolVerify = (token: string) =>
    new Promise<boolean>((resolve, reject) =>
      poolCheck(token, (error, valid) => error ? reject(error) : resolve(valid))
    )
  const emptyRuntime = ManagedRuntime.make(Layer.empty)
  await emptyRuntime.runPromise(Effect.void)
  const requestsBefore = keySet.requests
  const rows = await inTurns([
    () =>
      measure(
        "official `stytch` SDK `m2m.authenticateToken`",
        tokens,
        (token) => sdk.m2m.authenticateToken({ access_token: token, required_scopes: requiredScopes })
      ),
    () =>
      measure(
        "raw jose `jwtVerify`, local key set",
        tokens,
        (token) => jwtVerify(token, localKeys, { issuer, audience: projectId, algorithms: ["RS256"] })
      ),
    () =>
      measure(
        "signature only: jose 5 `compactVerify` (thread pool)",
        tokens,
        (token) => compactVerify(token, joseKey, { algorithms: ["RS256"] })
      ),
    () =>
      measure("signature only: `node:crypto` `verify`, synchronous", tokens, async (token) => {
        const [signingInput, signature] = signatureParts(token)
        return rsaVerify("RSA-SHA256", signingInput, nodeKey, signature)
      }),
    () => measure("signature only: `node:crypto` `verify` on the thread pool", tokens, poolVerify),
    () =>
      measure(
        "signature only: the same, as an `Effect.async` under `runPromise` per call",
        tokens,
        (token) =>
          emptyRuntime.runPromise(Effect.async<boolean>((resume) => {
            poolCheck(token, (error, valid) => resume(error ? Effect.die(error) : Effect.succeed(valid)))
          }))
      ),
    () => measure("ours, fresh tokens (cache off), `runPromise` per call", tokens, oursFresh),
    () =>
      measureInFiber(
        "ours, fresh tokens (cache off), in a fiber",
        tokens,
        (token) => freshVerifier.authenticate(Redacted.make(token), { requiredScopes })
      )
  ])
  const warmFetches = keySet.requests - requestsBefore

  // A repeated token through the verified-token cache, under both harnesses of the fresh rows.
  const cached = verifierRuntime({})
  const oursCached = await authenticate(cached)
  const cachedVerifier: Verifier.Service = await cached.runPromise(M2MTokenVerifier)
  const repeated = Array.from({ length: cachedCalls }, () => tokens[1]!)
  await oursCached(repeated[0]!)
  const cachedRows = await inTurns([
    () =>
      measure(
        "ours, one repeated token (verified-token cache), `runPromise` per call",
        repeated,
        oursCached,
        false
      ),
    () =>
      measureInFiber(
        "ours, one repeated token (verified-token cache), in a fiber",
        repeated,
        (token) => cachedVerifier.authenticate(Redacted.make(token), { requiredScopes }),
        false
      )
  ])

  // What a cached verification cannot go below: the digest that keys the cache, the `Redacted` a
  // caller wraps the token in, and (for the promise harness) one `runPromise`. Tight loops, no timer
  // per call; the cached call itself is measured the same way, in a fiber, beside them.
  const token = tokens[1]!
  const floor = {
    digest: await perCall(cachedCalls, () => hash("sha256", token, "base64")),
    redacted: await perCall(cachedCalls, () => Redacted.make(token)),
    runPromise: await perCall(cachedCalls, () => emptyRuntime.runPromise(Effect.void)),
    cachedInFiber: await perCallInFiber(cachedVerifier, repeated),
    freshInFiber: await perCallInFiber(freshVerifier, tokens)
  }
  await emptyRuntime.dispose()

  // Cold starts, each in a new process: from making the verifier (modules loaded) to the first
  // verification, which waits for the key-set fetch.
  const coldStart = async (contender: string) => {
    const runs: Array<{ first: number; sinceStart: number }> = []
    for (let n = 0; n < coldRuns; n++) {
      const { stdout } = await promisify(execFile)(process.execPath, [
        new URL("verify-cold.js", import.meta.url).pathname,
        contender,
        baseUrl,
        projectId,
        tokens[n]!
      ])
      runs.push(JSON.parse(stdout) as { first: number; sinceStart: number })
    }
    return {
      first: quantile(sorted(runs.map((run) => run.first)), 0.5),
      sinceStart: quantile(sorted(runs.map((run) => run.sinceStart)), 0.5)
    }
  }
  const cold = {
    sdk: await coldStart("sdk"),
    fetch: await coldStart("ours-fetch"),
    undici: await coldStart("ours-undici")
  }

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

  await Promise.all([cached.dispose(), fresh.dispose(), outage.dispose()])
  server.close()

  const [sdkRow, , joseSignature, nodeSignature, poolSignature, poolEffect, oursPromise, oursFiber] = rows
  const [cachedPromise, cachedFiber] = cachedRows
  const rate = (value: number | undefined) => value === undefined ? "" : perSecond(value)
  const table = [
    "| verifier | one at a time /s | p50 µs | 64 in flight /s |",
    "| --- | ---: | ---: | ---: |",
    ...[...rows, ...cachedRows].map((row) =>
      `| ${row.name} | ${perSecond(row.sequentialRate)} | ${micros(row.p50)} | ${rate(row.concurrentRate)} |`
    )
  ].join("\n")
  const met = (ok: boolean) => ok ? "met" : "missed"
  const freshRatio = oursPromise!.sequentialRate / sdkRow!.sequentialRate
  const freshRatio64 = oursPromise!.concurrentRate! / sdkRow!.concurrentRate!
  const cachedRatioPromise = cachedPromise!.sequentialRate / oursPromise!.sequentialRate
  const cachedRatioFiber = cachedFiber!.sequentialRate / oursFiber!.sequentialRate
  const ms = (millis: number) => `${millis.toFixed(1)} ms`
  return publish(
    "verify",
    [
      "### verify: M2M access tokens, RS256 2048, Stytch-shaped claims, `required_scopes: [\"read:invoices\"]`",
      "",
      table,
      "",
      `Signature only, jose 5 \`compactVerify\` against \`node:crypto\` \`verify\`: ${
        times(nodeSignature!.sequentialRate / joseSignature!.sequentialRate)
      } one at a time, ${
        times(nodeSignature!.concurrentRate! / joseSignature!.concurrentRate!)
      } at ${inFlight} in flight.`,
      "",
      `The second core, at ${inFlight} in flight: the thread pool checks ${
        rate(poolSignature!.concurrentRate)
      } signatures/s awaited as promises, but ${
        rate(poolEffect!.concurrentRate)
      }/s as an \`Effect.async\` under \`runPromise\` (a fiber suspended and resumed per check, on the main ` +
      `thread), against ${rate(nodeSignature!.concurrentRate)}/s on the main thread alone. Ours on the main thread ` +
      `verifies ${rate(oursPromise!.concurrentRate)}/s whole; 2× the SDK is ${rate(2 * sdkRow!.concurrentRate!)}/s.`,
      "",
      "Where a cached verification's time goes, µs per call in tight loops (no timer per call), medians of " +
      `${rounds}:`,
      "",
      "| step | µs per call |",
      "| --- | ---: |",
      `| SHA-256 of the whole token (the cache's key) | ${floor.digest.toFixed(2)} |`,
      `| \`Redacted.make\` of the token (the caller's) | ${floor.redacted.toFixed(2)} |`,
      `| \`runPromise\` of \`Effect.void\`, awaited (the promise harness's) | ${floor.runPromise.toFixed(2)} |`,
      `| ours, one repeated token (verified-token cache), in a fiber, \`Redacted.make\` included | ${
        floor.cachedInFiber.toFixed(2)
      } |`,
      `| ours, fresh tokens (cache off), in a fiber, \`Redacted.make\` included | ${floor.freshInFiber.toFixed(2)} |`,
      "",
      `Fresh against cached in these loops: ${times(floor.freshInFiber / floor.cachedInFiber)}. ` +
      `A ≥ 50× cached token would take at most ${(floor.freshInFiber / 50).toFixed(2)} µs here, against ${
        (floor.digest + floor.redacted).toFixed(2)
      } µs for the digest and the \`Redacted\` alone.`,
      "",
      `| cold start, median of ${coldRuns} new processes | made to first verification | process start to first verification |`,
      "| --- | ---: | ---: |",
      `| official SDK | ${ms(cold.sdk.first)} | ${ms(cold.sdk.sinceStart)} |`,
      `| ours over \`FetchHttpClient\` | ${ms(cold.fetch.first)} | ${ms(cold.fetch.sinceStart)} |`,
      `| ours over \`UndiciHttpClient\` | ${ms(cold.undici.first)} | ${ms(cold.undici.sinceStart)} |`,
      "",
      `| other figure | ours | official SDK |`,
      "| --- | ---: | ---: |",
      `| key-set fetches caused by 1,000 forged kids, twice (all at once, then one by one) | ${oursForged} | ${sdkForged} |`,
      `| key-set fetches during the ${
        rows.length * rounds * freshTokens * 3
      } warm verifications above | ${warmFetches} | |`,
      `| key set answering 503: 500 valid tokens refused as invalid (401) / 500 forged kids answered KeysUnavailable (503) | ${unauthorized} / ${unavailable} | |`,
      "",
      `Targets: fresh tokens ≥ 2× the SDK's throughput (ours with \`runPromise\` per call, as the SDK is awaited per call): ${
        times(freshRatio)
      } one at a time, ${times(freshRatio64)} at ${inFlight} in flight (${
        met(freshRatio >= 2 && freshRatio64 >= 2)
      }); a cached token ≥ 50× faster than a fresh one, each pair under one harness: ${
        times(cachedRatioFiber)
      } in a fiber (${met(cachedRatioFiber >= 50)}), ${times(cachedRatioPromise)} with \`runPromise\` per call (${
        met(cachedRatioPromise >= 50)
      }), ${times(floor.freshInFiber / floor.cachedInFiber)} in tight loops in a fiber (${
        met(floor.freshInFiber / floor.cachedInFiber >= 50)
      }); zero fetches per verification once warm: ${warmFetches} (${
        met(warmFetches === 0)
      }); ≤ 1 fetch per cooldown for forged kids: ${oursForged} (${met(oursForged <= 1)}); an outage never turns a ` +
      `valid token into a 401: ${unauthorized} (${met(unauthorized === 0)}).`,
      "",
      "By p50, which a busy spell on a shared machine moves least (a rate is a mean and takes every stall): " +
      `ours against the SDK ${times(sdkRow!.p50 / oursPromise!.p50)} with \`runPromise\` per call, ${
        times(sdkRow!.p50 / oursFiber!.p50)
      } in a fiber; a cached token against a fresh one ${times(oursFiber!.p50 / cachedFiber!.p50)} in a fiber, ${
        times(oursPromise!.p50 / cachedPromise!.p50)
      } with \`runPromise\` per call.`,
      "",
      `Method: ${freshTokens} distinct tokens signed by one key, served as a JWKS by a loopback \`node:http\` server ` +
      "counting its requests. Each verifier first verifies all of them to warm up, then all of them one at a time " +
      `(wall time per call: p50), then all of them again ${inFlight} in flight; the verifiers take turns at this ` +
      `${rounds} times and each figure is the median of its ${rounds}. The SDK, jose and the ` +
      "signature-only rows are awaited per call. Ours runs over `FetchHttpClient` under two harnesses: " +
      "`ManagedRuntime.runPromise` per call (a promise per call, like the others), and `yield*` inside one " +
      `running fiber (\`Effect.forEach\` with concurrency ${inFlight} for the in-flight figure), which is how ` +
      "an Effect request handler or middleware calls it. Its fresh-token rows run with the verified-token " +
      "cache off, so every call checks the signature (`node:crypto` `verify` on the main thread, see " +
      "`packages/core/src/internal/jws.ts`). The cached rows verify one token " +
      `${cachedCalls.toLocaleString("en-US")} times; the cached-to-fresh ratio compares rows of the same harness. ` +
      "The SDK gets the loopback server as its `env` base URL, so its jose remote key set fetches from it. " +
      "Raw jose runs `jwtVerify` over `createLocalJWKSet`, checking issuer, audience and algorithm but not " +
      "scopes. Cold starts run `verify-cold.ts` in a new Node process per run: each contender loads its " +
      "modules, then is made and verifies one token, fetching the key set on loopback."
    ].join("\n")
  )
}
