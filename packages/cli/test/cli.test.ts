/**
 * `stytch-m2m` as an operator meets it: the compiled bin in a child process against an emulator on
 * loopback, JSON output parsed back, the store looked at behind the HTTP surface, and terminal
 * sessions under a pseudo-terminal for the prompts and the progress bar.
 *
 * Starting the bin costs about 1.5 s of CPU (loading its modules), so the tests run concurrently and
 * each starts the bins it needs at once where their order does not matter. Each test acts on clients
 * of its own (a tag in their ids and scopes); the tests that inject faults have an emulator of their
 * own and run one at a time.
 */
import { describe, expect, it as plain, layer } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { Emulator } from "@stytch-effect/emulator"
import { ClientCredentials } from "@stytch-effect/memory"
import { Duration, Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { beforeAll, vi } from "vitest"
import { version } from "../src/internal/version.js"
import { build, cli, jsonLines, projectEnv, run } from "./support.js"

beforeAll(build, 120_000)

/** A few clients holding a scope of their own, so each test selects only what it made. */
const seed = (tag: string, count: number) =>
  Effect.flatMap(M2MClients, (clients) =>
    Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) =>
        Effect.map(
          clients.create({ client_id: `${tag}-${i}`, client_name: `${tag} ${i}`, scopes: [`team:${tag}`] }),
          (response) => response.m2m_client
        ),
      { concurrency: 8 }
    ))

const exists = (client_id: string) =>
  Effect.flatMap(M2MClients, (clients) => Effect.isSuccess(clients.get({ client_id })))

// The bins run concurrently, on a machine that may have two cores: give each test time.
vi.setConfig({ testTimeout: 120_000 })

describe.concurrent("stytch-m2m", () => {
  layer(Emulator.layerMemory(), { excludeTestServices: true })("against an emulator", (it) => {
    describe("clients create, get, list, update", () => {
      it.effect("create prints the secret once, in its own field; get, list and update never print it", () =>
        Effect.gen(function*() {
          const created = yield* cli([
            "clients",
            "create",
            "--id",
            "ops-bot",
            "--name",
            "Ops bot",
            "--scope",
            "read:ops",
            "--scope",
            "write:ops",
            "--metadata",
            "{\"team\":\"ops\"}",
            "--json"
          ])
          expect(created.code).toBe(0)
          const [output] = jsonLines(created.stdout)
          expect(output.client).toMatchObject({
            client_id: "ops-bot",
            client_name: "Ops bot",
            scopes: ["read:ops", "write:ops"],
            trusted_metadata: { team: "ops" }
          })
          expect(output.request_id).toMatch(/^request-id-test-/)
          const secret: string = output.client_secret
          expect(JSON.stringify(output.client)).not.toContain(secret)
          const credentials = yield* ClientCredentials
          expect(yield* credentials.verify("ops-bot", Redacted.make(secret))).toBe(true)

          const others = yield* Effect.all([
            cli(["clients", "get", "ops-bot"]),
            cli(["clients", "list", "--id", "ops-bot"]),
            cli(["clients", "update", "ops-bot", "--name", "Ops robot", "--json"])
          ], { concurrency: "unbounded" })
          for (const other of others) {
            expect(other.code).toBe(0)
            expect(other.stdout + other.stderr).not.toContain(secret)
          }
          const [details, table, updated] = others
          expect(details!.stdout).toMatch(/client id: +ops-bot\n/)
          expect(details!.stdout).toContain(`secret:      …${secret.slice(-4)}`)
          expect(table!.stdout).toMatch(/^CLIENT ID +NAME +STATUS +SECRET +SCOPES\nops-bot +Ops (ro)?bot +active +…/)
          expect(jsonLines(updated!.stdout)[0].client).toMatchObject({
            client_name: "Ops robot",
            client_secret_last_four: secret.slice(-4)
          })
        }))

      it.effect("list walks the search with filters by scope, name and id, as JSON lines", () =>
        Effect.gen(function*() {
          yield* seed("list", 3)
          const [byNameOrId, byScopeAndName] = yield* Effect.all([
            cli(["clients", "list", "--name", "list 0", "--id", "list-2", "--any", "--json"]),
            cli(["clients", "list", "--scope", "team:list", "--name", "list 1", "--json"])
          ], { concurrency: 2 })
          const ids = (output: { stdout: string }) => jsonLines(output.stdout).map((client) => client.client_id).sort()
          expect(ids(byNameOrId)).toEqual(["list-0", "list-2"])
          expect(ids(byScopeAndName)).toEqual(["list-1"])
        }))
    })

    describe("errors and exit codes", () => {
      it.effect("each failure is one line naming its tag and request id, with a documented exit code", () =>
        Effect.gen(function*() {
          const [rotating] = yield* seed("rotating", 1)
          const clients = yield* M2MClients
          yield* clients.secrets.rotateStart({ client_id: rotating!.client_id })
          const [notFound, usage, noSelection, auth, noCredentials, refused] = yield* Effect.all([
            cli(["clients", "get", "no-such-client"]),
            cli(["clients", "get", "x", "--frobnicate"]),
            cli(["clients", "delete"]),
            cli(["clients", "get", "x"], { env: { STYTCH_SECRET: "secret-test-wrong-wrong-wrong" } }),
            run(["clients", "list"]),
            cli(["secrets", "rotate-start", rotating!.client_id])
          ], { concurrency: "unbounded" })
          expect(notFound.code).toBe(3)
          expect(notFound.stderr.trim().split("\n")).toHaveLength(1)
          expect(notFound.stderr).toMatch(
            /^stytch-m2m: ClientNotFound: m2m_client_not_found: .*request request-id-test-/
          )
          expect(usage.code).toBe(2)
          expect(noSelection.code).toBe(2)
          expect(noSelection.stderr).toContain("--all")
          expect(auth.code).toBe(4)
          expect(auth.stderr).toMatch(/^stytch-m2m: Unauthorized: .*request request-id-test-/)
          expect(auth.stderr).not.toContain("wrong-wrong")
          expect(noCredentials.code).toBe(2)
          expect(noCredentials.stderr).toContain("STYTCH_PROJECT_ID is not set; STYTCH_SECRET is not set")
          // A rotation already in progress: refused (exit 1), and the refusal shows no secret.
          expect(refused.code).toBe(1)
          expect(refused.stderr).toMatch(/^stytch-m2m: SecretAlreadyRotating: /)
          expect(refused.stdout).toBe("")
        }))
    })

    describe("bulk work", () => {
      it.effect("deactivate and activate by filter, with --yes: a JSON line per client, a summary on stderr", () =>
        Effect.gen(function*() {
          yield* seed("flip", 3)
          const deactivated = yield* cli(["clients", "deactivate", "--scope", "team:flip", "--yes", "--json"])
          expect(deactivated.code).toBe(0)
          expect(jsonLines(deactivated.stdout).map((line) => line.outcome)).toEqual([
            "deactivated",
            "deactivated",
            "deactivated"
          ])
          expect(deactivated.stderr).toMatch(/deactivated 3 of 3 clients in [\d.]+ s/)
          const clients = yield* M2MClients
          expect((yield* clients.get({ client_id: "flip-1" })).m2m_client.status).toBe("inactive")
          // Already active clients need no change, so activating selects only the inactive ones.
          yield* clients.update({ client_id: "flip-2", status: "active" })
          const activated = yield* cli(["clients", "activate", "--scope", "team:flip", "--yes", "--json"])
          expect(jsonLines(activated.stdout).map((line) => line.client_id).sort()).toEqual(["flip-0", "flip-1"])
        }))

      it.effect("some failures: each on its own, a summary by error tag, exit 6", () =>
        Effect.gen(function*() {
          yield* seed("partial", 2)
          const result = yield* cli(["clients", "delete", "partial-0", "partial-missing", "partial-1"])
          expect(result.code).toBe(6)
          expect(result.stderr).toContain("partial-missing: ClientNotFound: m2m_client_not_found")
          expect(result.stderr).toMatch(/deleted 2 of 3 clients/)
          expect(result.stderr).toContain("failed 1: ClientNotFound 1")
          expect(yield* exists("partial-0")).toBe(false)
        }))

      it.effect("without --yes and with no terminal to ask on, nothing is deleted", () =>
        Effect.gen(function*() {
          yield* seed("unasked", 2)
          const result = yield* cli(["clients", "delete", "--scope", "team:unasked"])
          expect(result.code).toBe(2)
          expect(result.stderr).toContain("Delete 2 clients (clients with scope team:unasked)? Nobody at a terminal")
          expect(yield* exists("unasked-0")).toBe(true)
        }))
    })

    describe("secrets", () => {
      it.effect("rotate-start prints the next secret once; rotate-finish makes it the secret; rotate-cancel discards", () =>
        Effect.gen(function*() {
          const [client, other] = yield* seed("rotation", 2)
          const clients = yield* M2MClients
          const { m2m_client: { next_client_secret } } = yield* clients.secrets.rotateStart({
            client_id: other!.client_id
          })
          const [started, cancelled] = yield* Effect.all([
            cli(["secrets", "rotate-start", client!.client_id, "--json"]),
            cli(["secrets", "rotate-cancel", other!.client_id, "--json"])
          ], { concurrency: 2 })
          expect(started.code).toBe(0)
          const [output] = jsonLines(started.stdout)
          const next: string = output.next_client_secret
          expect(output.client.next_client_secret_last_four).toBe(next.slice(-4))
          expect(started.stderr).not.toContain(next)
          const credentials = yield* ClientCredentials
          expect(jsonLines(cancelled.stdout)[0].client.next_client_secret_last_four).toBeNull()
          expect(yield* credentials.verify(other!.client_id, next_client_secret)).toBe(false)

          const finished = yield* cli(["secrets", "rotate-finish", client!.client_id, "--json"])
          expect(finished.stdout).not.toContain(next)
          expect(jsonLines(finished.stdout)[0].client.client_secret_last_four).toBe(next.slice(-4))
          expect(yield* credentials.verify(client!.client_id, Redacted.make(next))).toBe(true)
        }))
    })

    describe("token and verify", () => {
      it.effect("token prints a token on stdout only, its secret from a variable or stdin; verify shows what it says", () =>
        Effect.gen(function*() {
          const secret = `token-test-secret-${Math.random().toString(36).slice(2)}`
          const clients = yield* M2MClients
          yield* clients.create({
            client_id: "token-0",
            scopes: ["read:tokens", "write:tokens"],
            client_secret: Redacted.make(secret)
          })
          // No project secret in the environment: getting and verifying tokens needs none.
          const env = yield* projectEnv
          const [asJson, piped, wrong, unset] = yield* Effect.all([
            run(["token", "token-0", "--scope", "read:tokens", "--json"], {
              env: { ...env, STYTCH_CLIENT_SECRET: secret }
            }),
            run(["token", "token-0", "--secret-stdin"], { env, input: `${secret}\n` }),
            run(["token", "token-0", "--secret-env", "WORKER_SECRET"], {
              env: { ...env, WORKER_SECRET: `${secret}-wrong` }
            }),
            run(["token", "token-0"], { env })
          ], { concurrency: "unbounded" })
          expect(asJson.code).toBe(0)
          const [issued] = jsonLines(asJson.stdout)
          expect(issued).toMatchObject({
            token_type: "bearer",
            expires_in: 3600,
            client_id: "token-0",
            scopes: ["read:tokens"]
          })
          expect(Object.keys(issued).sort()).toEqual(
            ["access_token", "client_id", "expires_at", "expires_in", "request_id", "scopes", "token_type"]
          )
          expect(Date.parse(issued.expires_at) - Date.now()).toBeGreaterThan(3_500_000)
          expect(piped.code).toBe(0)
          const token = piped.stdout.trim()
          expect(token.split(".")).toHaveLength(3)
          expect(wrong.code).toBe(4)
          expect(wrong.stderr).toMatch(/^stytch-m2m: InvalidClientCredentials: .*request request-id-test-/)
          expect(unset.code).toBe(2)
          expect(unset.stderr).toContain("STYTCH_CLIENT_SECRET is not set")
          for (const result of [asJson, piped, wrong, unset]) {
            expect(result.stderr).not.toContain("token-test-secret")
            expect(result.stderr).not.toContain(token.split(".")[2])
          }

          const [verified, details, missing, invalid, badAge] = yield* Effect.all([
            run(["verify", "--scope", "read:tokens", "--max-age", "10 minutes", "--json"], {
              env,
              input: issued.access_token
            }),
            run(["verify"], { env, input: `${token}\n` }),
            run(["verify", "--scope", "write:tokens", "--token-env", "TOKEN"], {
              env: { ...env, TOKEN: issued.access_token }
            }),
            run(["verify"], { env, input: `${token.slice(0, -4)}AAAA` }),
            run(["verify", "--max-age", "soon", "--token-env", "TOKEN"], { env: { ...env, TOKEN: token } })
          ], { concurrency: "unbounded" })
          expect(verified.code).toBe(0)
          expect(jsonLines(verified.stdout)).toEqual([{
            client_id: "token-0",
            scopes: ["read:tokens"],
            custom_claims: {},
            issued_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
            expires_at: issued.expires_at
          }])
          expect(details.stdout).toMatch(
            /^client id: +token-0\nscopes: +read:tokens write:tokens\ncustom claims: +\{\}\n/
          )
          expect(missing.code).toBe(8)
          expect(missing.stderr).toMatch(/^stytch-m2m: MissingScopes: client token-0 lacks write:tokens/)
          expect(invalid.code).toBe(7)
          expect(invalid.stderr).toMatch(/^stytch-m2m: BadSignature: /)
          expect(badAge.code).toBe(2)
          expect(badAge.stderr).toContain("Expected a duration such as \"10 minutes\"")
          for (const result of [verified, details, missing, invalid, badAge]) {
            expect(result.stderr).not.toContain(token.split(".")[2])
            expect(result.stdout).not.toContain(token.split(".")[2])
          }
        }))
    })

    describe("at a terminal", () => {
      it.effect("a bulk delete asks first, then shows progress with counts and rate, and a summary", () =>
        Effect.gen(function*() {
          yield* seed("tty", 5)
          let answered = false
          const session = yield* cli(["clients", "delete", "--scope", "team:tty"], {
            pty: true,
            interact: (output, { write }) => {
              if (!answered && output.includes("Delete 5 clients (clients with scope team:tty)?")) {
                answered = true
                write("y")
              }
            }
          })
          expect(session.code).toBe(0)
          expect(session.stdout).toMatch(/deleting \[█{24}\] 5\/5 · ok 5 · failed 0 · [\d.]+\/s/)
          expect(session.stdout).toMatch(/deleted 5 of 5 clients in [\d.]+ s/)
          expect(yield* exists("tty-0")).toBe(false)
        }))

      it.effect("the guided rotation shows the next secret, waits for the operator, then finishes", () =>
        Effect.gen(function*() {
          const [client] = yield* seed("guided", 1)
          let answered = false
          const session = yield* cli(["secrets", "rotate", client!.client_id], {
            pty: true,
            interact: (output, { write }) => {
              if (!answered && output.includes("Is the next secret deployed")) {
                answered = true
                write("\r")
              }
            }
          })
          expect(session.code).toBe(0)
          const next = /next client secret: (\S+)/.exec(session.stdout)?.[1]
          expect(next).toBeDefined()
          expect(session.stdout.split(next!)).toHaveLength(2)
          expect(session.stdout).toContain("Rotation finished.")
          const credentials = yield* ClientCredentials
          expect(yield* credentials.verify(client!.client_id, Redacted.make(next!))).toBe(true)
        }))
    })

    it.effect("--emulator runs against a throwaway emulator with demo clients, whose tokens verify in another", () =>
      Effect.gen(function*() {
        const [demo, token] = yield* Effect.all([
          run(["--emulator", "clients", "list", "--json"]),
          run(["--emulator", "token", "demo-billing-worker", "--secret-stdin"], { input: "demo-billing-worker-secret" })
        ], { concurrency: 2 })
        expect(demo.code).toBe(0)
        expect(jsonLines(demo.stdout).map((client) => client.client_id)).toContain("demo-billing-worker")
        expect(token.code).toBe(0)
        const verified = yield* run(["--emulator", "verify", "--json"], { input: token.stdout })
        expect(verified.code).toBe(0)
        expect(jsonLines(verified.stdout)[0]).toMatchObject({
          client_id: "demo-billing-worker",
          scopes: ["read:invoices", "write:invoices"]
        })
      }))

    plain("--version is package.json's", () => {
      const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
      expect(version).toBe(manifest.version)
    })
  })

  // Faults are the emulator's, for every request it serves: these tests have one of their own, one at a time.
  layer(Emulator.layerMemory(), { excludeTestServices: true })("against an emulator with faults", (it) => {
    describe.sequential("faults", () => {
      it.effect("a server that keeps failing exits 5 after the layer's retries", () =>
        Effect.gen(function*() {
          const { faults } = yield* Emulator
          yield* faults.setRoute("get", { fail: { share: 1, status: 503 } })
          const result = yield* cli(["clients", "get", "x"]).pipe(Effect.ensuring(faults.clear))
          expect(result.code).toBe(5)
          expect(result.stderr).toMatch(/^stytch-m2m: ServerError: .*after 4 attempts/)
        }))

      it.effect("Ctrl-C stops between operations: the ones in flight finish and are counted, none is half done", () =>
        Effect.gen(function*() {
          yield* seed("sigint", 30)
          const { faults } = yield* Emulator
          yield* faults.setRoute("delete", { latency: Duration.millis(100) })
          let interrupted = false
          const result = yield* cli(["clients", "delete", "--scope", "team:sigint", "--yes", "--json"], {
            interact: (output, { interrupt }) => {
              if (!interrupted && jsonLines(output).length >= 3) {
                interrupted = true
                interrupt()
              }
            }
          }).pipe(Effect.ensuring(faults.clear))
          expect(result.code).toBe(130)
          const reported = jsonLines(result.stdout).filter((line) => line.outcome === "deleted").map((line) =>
            line.client_id
          )
          const remaining = (yield* Effect.forEach(
            Array.from({ length: 30 }, (_, i) => `sigint-${i}`),
            (id) => Effect.map(exists(id), (found) => found ? [id] : [])
          )).flat()
          // Every delete that happened was reported, and the walk stopped well short of the end.
          expect(reported.length + remaining.length).toBe(30)
          expect(remaining.length).toBeGreaterThan(0)
          expect(result.stderr).toMatch(new RegExp(`Interrupted: deleted ${reported.length} of 30 clients`))
          expect(result.stderr).toContain("none left half done")
        }))

      it.effect("verify exits 5 when the project's keys cannot be had, and says so without the token", () =>
        Effect.gen(function*() {
          const { faults } = yield* Emulator
          const clients = yield* M2MClients
          yield* clients.create({
            client_id: "keys-0",
            scopes: [],
            client_secret: Redacted.make("keys-test-secret-6b1d0f")
          })
          const env = yield* projectEnv
          const token = yield* run(["token", "keys-0"], {
            env: { ...env, STYTCH_CLIENT_SECRET: "keys-test-secret-6b1d0f" }
          })
          yield* faults.setRoute("jwks", { fail: { share: 1, status: 503 } })
          const result = yield* run(["verify"], { env, input: token.stdout }).pipe(Effect.ensuring(faults.clear))
          expect(result.code).toBe(5)
          expect(result.stderr).toMatch(/^stytch-m2m: KeysUnavailable: .*HTTP 503/)
          expect(result.stderr).not.toContain(token.stdout.trim().split(".")[2])
        }))
    })
  })
})
