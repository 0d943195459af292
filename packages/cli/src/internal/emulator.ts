/**
 * The throwaway emulator behind `--emulator`: started inside the process on loopback, seeded with a few
 * demo clients, gone when the command ends. Commands reach it over HTTP through the http layers, so it
 * shows exactly what Stytch would.
 *
 * Its project id and the demo clients' secrets (each one's id followed by `-secret`) are fixed and
 * public, so `token` works with a documented secret. Its signing key is made once per machine and kept
 * in the user's cache folder, so a token one `--emulator` command printed verifies in another
 * (`stytch-m2m --emulator token ... | stytch-m2m --emulator verify`), each process having an emulator of
 * its own, and later starts skip the RSA key generation. Nothing it signs is worth anything elsewhere:
 * no Stytch project serves this key, and its project id is no real one.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients, HttpM2MTokens, HttpM2MTokenVerifier } from "@stytch-effect/http"
import { Duration, Effect, Layer, Redacted } from "effect"
import type { KeyObject } from "node:crypto"
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto"
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { note } from "./output.js"

/** The demo project's id. */
export const demoProjectId = "project-test-00000000-0000-4000-8000-00000000d3e0"

/** A demo client's secret, documented in the README and the emulator's note. */
export const demoSecretOf = (clientId: string): string => `${clientId}-secret`

/** The emulator's demo clients: fixed ids, so `clients get demo-billing-worker` works at once. */
export const demoClients = () =>
  [
    { client_id: "demo-billing-worker", client_name: "Billing worker", scopes: ["read:invoices", "write:invoices"] },
    { client_id: "demo-reports-reader", client_name: "Reports reader", scopes: ["read:invoices", "read:reports"] },
    {
      client_id: "demo-legacy-sync",
      client_name: "Legacy sync",
      client_description: "Retired; kept for its audit trail",
      status: "inactive" as const,
      scopes: ["read:customers"]
    }
  ].map((client) => ({ ...client, client_secret: Redacted.make(demoSecretOf(client.client_id)) }))

/**
 * Where the demo signing key is kept: made on this machine the first time `--emulator` needs it, kept
 * readable by this user only, and never committed anywhere (a private key in a repository is one that
 * secret scanners rightly flag, whatever it signs).
 */
const demoKeyPath = () =>
  join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "stytch-m2m", "emulator-signing-key.pem")

const newKeyPem = () =>
  generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString()

const demoSigningKey = () => {
  const path = demoKeyPath()
  let pem: string
  try {
    pem = readFileSync(path, "utf8")
  } catch {
    pem = newKeyPem()
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // Written aside, then linked into place: of two commands starting at once, one key wins whole.
    const aside = `${path}.${process.pid}`
    writeFileSync(aside, pem, { mode: 0o600 })
    try {
      linkSync(aside, path)
    } catch {
      pem = readFileSync(path, "utf8")
    } finally {
      unlinkSync(aside)
    }
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch {
    // A damaged cache file (truncated, edited) is replaced rather than failing every `--emulator` run.
    pem = newKeyPem()
    const aside = `${path}.${process.pid}`
    writeFileSync(aside, pem, { mode: 0o600 })
    renameSync(aside, path)
    privateKey = createPrivateKey(pem)
  }
  const { e, kty, n } = createPublicKey(privateKey).export({ format: "jwk" })
  const kid = "jwk-test-stytch-m2m-demo"
  return { kid, jwk: { kty: kty!, use: "sig", key_ops: ["verify"], alg: "RS256", kid, n, e }, privateKey }
}

/** `M2MClients`, `M2MTokens` and `M2MTokenVerifier` over HTTP to an emulator that lives as long as the command. */
export const layer = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { baseUrl, projectId, secret } = yield* Emulator
    yield* note(
      `Using a throwaway emulator at ${baseUrl} with ${demoClients().length} demo clients ` +
        `(each one's secret is its id followed by -secret); nothing is kept.`
    )
    return Layer.mergeAll(
      HttpM2MClients.layer({ projectId, secret, baseUrl }),
      HttpM2MTokens.layer({ projectId, baseUrl }),
      // One command a process: the keys are fetched for it, never refreshed in the background.
      HttpM2MTokenVerifier.layer({ projectId, baseUrl, refreshInterval: Duration.infinity })
    )
  })
).pipe(
  Layer.provide(
    Emulator.layerMemory({ projectId: demoProjectId, memory: { seed: demoClients(), signingKeys: [demoSigningKey()] } })
  ),
  Layer.provide(NodeHttpClient.layerUndici)
)
