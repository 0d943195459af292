/**
 * One cold start for `verify.ts`, in a process of its own: `node verify-cold.js <contender> <baseUrl>
 * <projectId> <token>` loads only the contender's modules, makes it, verifies the token (fetching the
 * key set from `baseUrl`), and prints `{ first, sinceStart }` in milliseconds: from making the
 * verifier to the first verification done, and from the process's start to the same moment.
 */
const [contender, baseUrl, projectId, token] = process.argv.slice(2) as [string, string, string, string]
const requiredScopes = ["read:invoices"]

const ours = async (client: "fetch" | "undici") => {
  const [
    { FetchHttpClient },
    { M2MTokenVerifier },
    { HttpM2MTokenVerifier, UndiciHttpClient },
    { Effect, Layer, ManagedRuntime, Redacted }
  ] = await Promise.all([
    import("@effect/platform"),
    import("@stytch-effect/core"),
    import("@stytch-effect/http"),
    import("effect")
  ])
  const started = performance.now()
  const runtime = ManagedRuntime.make(
    HttpM2MTokenVerifier.layer({ projectId, baseUrl }).pipe(
      Layer.provide(client === "fetch" ? FetchHttpClient.layer : UndiciHttpClient.layer)
    )
  )
  await runtime.runPromise(
    Effect.flatMap(M2MTokenVerifier, (verifier) => verifier.authenticate(Redacted.make(token), { requiredScopes }))
  )
  // `performance.now()` counts from the process's start.
  const done = performance.now()
  await runtime.dispose()
  return { first: done - started, sinceStart: done }
}

const sdk = async () => {
  const { Client } = await import("stytch")
  const started = performance.now()
  const client = new Client({ project_id: projectId, secret: "secret-test-unused", env: `${baseUrl}/` })
  await client.m2m.authenticateToken({ access_token: token, required_scopes: requiredScopes })
  const done = performance.now()
  return { first: done - started, sinceStart: done }
}

const figures = contender === "sdk"
  ? await sdk()
  : contender === "ours-fetch"
  ? await ours("fetch")
  : contender === "ours-undici"
  ? await ours("undici")
  : undefined
if (figures === undefined) throw new Error(`no contender ${contender}; there are sdk, ours-fetch, ours-undici`)
process.stdout.write(JSON.stringify(figures))
