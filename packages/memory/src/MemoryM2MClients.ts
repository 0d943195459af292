/**
 * The in-memory store behind `layer`: Stytch's M2M clients resource held in one `Ref`, so tests (and
 * the emulator) get the real API's behaviour with no network and no Stytch account.
 *
 * What it answers like Stytch does: generated ids (`m2m-client-test-<uuid>`, `-live-` for a
 * `project-live-` project), generated secrets from the cryptographic source shown once, only SHA-256
 * hashes of secrets kept, the documented errors with `request_id`, `error_url` and status, search with
 * AND/OR filters, exact totals and cursors that stay correct while clients come and go, and the
 * rotation state machine. The limits Stytch does not document are listed in `limits`.
 *
 * Every operation is one atomic step on an immutable state (`Ref.modify`): concurrent fibers never see
 * half an operation, and of concurrent creates with one `client_id` exactly one wins.
 */
import type { JsonObject, M2MClientStatus, Operation } from "@stytch-effect/core"
import {
  errorUrlOf,
  fromApiErrorFields,
  M2MClients,
  M2MClientsCreateResponse,
  M2MClientsDeleteResponse,
  M2MClientsGetResponse,
  M2MClientsSearchResponse,
  M2MClientsSecretsRotateCancelResponse,
  M2MClientsSecretsRotateResponse,
  M2MClientsSecretsRotateStartResponse,
  M2MClientsUpdateResponse,
  M2MClientWithClientSecret,
  M2MClientWithNextClientSecret,
  M2MToken,
  M2MTokens,
  Operations,
  projectEnvironment,
  ResultsMetadata,
  tokenLifetimeSeconds,
  tokenOperation,
  validateRequest
} from "@stytch-effect/core"
import { Array as Arr, Clock, Context, Effect, Either, HashMap, Layer, Option, Redacted, Ref } from "effect"
import { randomUUID } from "node:crypto"
import { ClientCredentials } from "./ClientCredentials.js"
import * as Rules from "./internal/rules.js"
import * as Search from "./internal/search.js"
import * as Secrets from "./internal/secrets.js"
import type { HashedSecret } from "./internal/secrets.js"
import * as State from "./internal/state.js"
import type { SigningKey } from "./SigningKeys.js"
import { makeSigningKeys, SigningKeys } from "./SigningKeys.js"

export { limits } from "./internal/rules.js"
export type { HashedSecret } from "./internal/secrets.js"
export type { StoredClient } from "./internal/state.js"

/**
 * A client to start from. Its secrets are given in plain (as `Redacted`) and stored hashed, like a
 * created client's; `next_client_secret` starts it mid-rotation. Seeds obey the same rules as
 * `clients.create` (a custom secret of 8 to 128 varied characters, and so on); a seed that breaks
 * one is a defect when the store is made.
 */
export interface SeedClient {
  /** Generated when left out. */
  readonly client_id?: string
  readonly client_secret: Redacted.Redacted<string>
  readonly next_client_secret?: Redacted.Redacted<string>
  readonly scopes?: ReadonlyArray<string>
  readonly client_name?: string
  readonly client_description?: string
  readonly status?: M2MClientStatus
  readonly trusted_metadata?: JsonObject
}

export interface MemoryOptions {
  /**
   * The project the store stands for: its tokens' `iss` (`stytch.com/{projectId}`) and `aud`, and
   * `test` or `live` in generated ids (a `project-live-` id means live). `project-test-<uuid>` by default.
   */
  readonly projectId?: string
  /**
   * Signing keys to use instead of generating them (about 100 ms each): the first signs from the start,
   * later ones become current on each `SigningKeys.rotate`. See `generateSigningKey`.
   */
  readonly signingKeys?: Iterable<SigningKey>
  /** The clients the store starts with, created in this order. */
  readonly seed?: Iterable<SeedClient>
  /** `false` answers every search's `total` with -1, as a project with totals turned off does. */
  readonly totals?: boolean
}

export interface MemoryStore {
  readonly projectId: string
  readonly clients: M2MClients.Service
  readonly credentials: ClientCredentials.Service
  /** Access tokens for the store's clients, signed by `keys`. */
  readonly tokens: M2MTokens.Service
  readonly keys: SigningKeys.Service
  /** What the store holds, in creation order: for tests that look inside (it holds no plain secret). */
  readonly stored: Effect.Effect<ReadonlyArray<State.StoredClient>>
}

/**
 * Responses are built from the store's own clients, each checked when it was made: checking them again
 * in the class constructors would cost more than the rest of an operation (a page of 1000 most of all).
 */
const trusted = { disableValidation: true } as const

/** A client's fields before it is stored: checked against the rules, or the first rule it breaks. */
const admit = (
  fields: {
    readonly client_id: string
    readonly client_name?: string | undefined
    readonly client_description?: string | undefined
    readonly status?: M2MClientStatus | undefined
    readonly scopes: ReadonlyArray<string>
    readonly trusted_metadata?: JsonObject | undefined
  },
  customSecrets: ReadonlyArray<Redacted.Redacted<string>>
): Option.Option<Rules.Violation> =>
  Rules.firstViolation(
    () => Rules.checkClientId(fields.client_id),
    () => Rules.checkClientName(fields.client_name ?? ""),
    () => Rules.checkClientDescription(fields.client_description ?? ""),
    () => Rules.checkScopes(fields.scopes),
    () => Rules.checkMetadata(fields.trusted_metadata ?? {}),
    ...customSecrets.map((secret) => () => Rules.checkCustomSecret(Redacted.value(secret)))
  )

/** Makes a store, empty or from `options.seed`. */
export const make = (options: MemoryOptions = {}): Effect.Effect<MemoryStore> =>
  Effect.gen(function*() {
    const projectId = options.projectId ?? `project-test-${randomUUID()}`
    const environment = projectEnvironment(projectId)
    const totals = options.totals ?? true
    const state = yield* Ref.make(State.empty)

    const requestId = Effect.map(Secrets.uuid, (id) => `request-id-${environment}-${id}`)

    // The error class comes from core's error_type table, exactly as the http layer decodes the same
    // answer, so both implementations fail with the same tags.
    const fail = <O extends Operation>(op: O, violation: Rules.Violation) =>
      Effect.flatMap(requestId, (request_id) =>
        Effect.fail(
          fromApiErrorFields({
            ...violation,
            request_id,
            error_url: errorUrlOf(violation.status_code, violation.error_type)
          }, op.errors) as Operation.Error<O>
        ))

    const check = <O extends Operation>(op: O, violation: Option.Option<Rules.Violation>) =>
      Option.isSome(violation) ? fail(op, violation.value) : Effect.void

    const commit = <O extends Operation, A>(op: O, step: (state: State.State) => State.Step<A>) =>
      Effect.flatMap(
        Ref.modify(state, step),
        Either.match({ onLeft: (violation) => fail(op, violation), onRight: Effect.succeed })
      )

    const respond = Effect.map(requestId, (request_id) => ({ request_id, status_code: 200 }))

    const generatedId = Effect.map(Secrets.uuid, (id) => `m2m-client-${environment}-${id}`)

    const startRotation = (next: HashedSecret) => (stored: State.StoredClient) =>
      stored.next_secret !== null
        ? Either.left(Rules.violations.alreadyRotating)
        : Either.right({ ...stored, next_secret: next, client: State.view(stored.client, stored.secret, next) })

    const endRotation = (outcome: "cancel" | "complete") => (stored: State.StoredClient) => {
      if (stored.next_secret === null) return Either.left(Rules.violations.notRotating)
      const secret = outcome === "complete" ? stored.next_secret : stored.secret
      return Either.right({ ...stored, secret, next_secret: null, client: State.view(stored.client, secret, null) })
    }

    const clients = M2MClients.make({
      create: (request) =>
        Effect.gen(function*() {
          const op = Operations.create
          const client_id = request.client_id ?? (yield* generatedId)
          const fields = { ...request, client_id }
          yield* check(op, admit(fields, request.client_secret === undefined ? [] : [request.client_secret]))
          const secret = request.client_secret ?? (yield* Secrets.generateSecret)
          const stored = yield* commit(
            op,
            State.insert({
              client_id,
              client_name: request.client_name ?? "",
              client_description: request.client_description ?? "",
              status: "active",
              scopes: request.scopes,
              trusted_metadata: request.trusted_metadata ?? {},
              secret: Secrets.hashSecret(secret),
              next_secret: null
            })
          )
          return new M2MClientsCreateResponse({
            ...(yield* respond),
            m2m_client: new M2MClientWithClientSecret({ ...stored.client, client_secret: secret }, trusted)
          }, trusted)
        }),

      get: (request) =>
        Effect.gen(function*() {
          const found = HashMap.get((yield* Ref.get(state)).byId, request.client_id)
          if (Option.isNone(found)) return yield* fail(Operations.get, Rules.violations.clientNotFound)
          return new M2MClientsGetResponse({ ...(yield* respond), m2m_client: found.value.client }, trusted)
        }),

      update: (request) =>
        Effect.gen(function*() {
          const op = Operations.update
          yield* check(
            op,
            Rules.firstViolation(
              () => request.client_name === undefined ? Option.none() : Rules.checkClientName(request.client_name),
              () =>
                request.client_description === undefined
                  ? Option.none()
                  : Rules.checkClientDescription(request.client_description),
              () => request.scopes === undefined ? Option.none() : Rules.checkScopes(request.scopes),
              () =>
                request.trusted_metadata === undefined ? Option.none() : Rules.checkMetadata(request.trusted_metadata)
            )
          )
          const stored = yield* commit(
            op,
            State.update(request.client_id, (stored) =>
              Either.right({
                ...stored,
                client: State.view(
                  {
                    client_id: stored.client.client_id,
                    client_name: request.client_name ?? stored.client.client_name,
                    client_description: request.client_description ?? stored.client.client_description,
                    status: request.status ?? stored.client.status,
                    scopes: request.scopes === undefined ? stored.client.scopes : State.owned(request.scopes),
                    trusted_metadata: request.trusted_metadata === undefined
                      ? stored.client.trusted_metadata
                      : State.owned(request.trusted_metadata)
                  },
                  stored.secret,
                  stored.next_secret
                )
              }))
          )
          return new M2MClientsUpdateResponse({ ...(yield* respond), m2m_client: stored.client }, trusted)
        }),

      delete: (request) =>
        Effect.gen(function*() {
          const removed = yield* commit(Operations.delete, State.remove(request.client_id))
          return new M2MClientsDeleteResponse({ ...(yield* respond), client_id: removed.client.client_id }, trusted)
        }),

      search: (request) =>
        Effect.gen(function*() {
          const page = Search.page(yield* Ref.get(state), request, { totals })
          if (Either.isLeft(page)) return yield* fail(Operations.search, page.left)
          return new M2MClientsSearchResponse({
            ...(yield* respond),
            m2m_clients: page.right.clients,
            results_metadata: new ResultsMetadata(
              { total: page.right.total, next_cursor: page.right.next_cursor },
              trusted
            )
          }, trusted)
        }),

      secrets: {
        rotateStart: (request) =>
          Effect.gen(function*() {
            const next = yield* Secrets.generateSecret
            const stored = yield* commit(
              Operations.rotateStart,
              State.update(request.client_id, startRotation(Secrets.hashSecret(next)))
            )
            return new M2MClientsSecretsRotateStartResponse({
              ...(yield* respond),
              m2m_client: new M2MClientWithNextClientSecret({ ...stored.client, next_client_secret: next }, trusted)
            }, trusted)
          }),

        rotateCancel: (request) =>
          Effect.gen(function*() {
            const stored = yield* commit(
              Operations.rotateCancel,
              State.update(request.client_id, endRotation("cancel"))
            )
            return new M2MClientsSecretsRotateCancelResponse(
              { ...(yield* respond), m2m_client: stored.client },
              trusted
            )
          }),

        rotate: (request) =>
          Effect.gen(function*() {
            const stored = yield* commit(Operations.rotate, State.update(request.client_id, endRotation("complete")))
            return new M2MClientsSecretsRotateResponse({ ...(yield* respond), m2m_client: stored.client }, trusted)
          })
      }
    })

    const authenticate = (client_id: string, secret: Redacted.Redacted<string>) =>
      Effect.map(Ref.get(state), (current) => {
        const found = HashMap.get(current.byId, client_id).pipe(
          Option.filter((stored) => stored.client.status === "active")
        )
        const hashes = Option.match(found, {
          onNone: () => [],
          onSome: (stored) =>
            stored.next_secret === null ? [stored.secret.hash] : [
              stored.secret.hash,
              stored.next_secret.hash
            ]
        })
        return Secrets.matchesAny(hashes, secret) ? Option.map(found, (stored) => stored.client) : Option.none()
      })

    const credentials: ClientCredentials.Service = {
      authenticate,
      verify: (client_id, secret) => Effect.map(authenticate(client_id, secret), Option.isSome)
    }

    const keys = yield* makeSigningKeys({ projectId, keys: options.signingKeys })

    const tokens = M2MTokens.make({
      token: (request) =>
        Effect.gen(function*() {
          const op = tokenOperation
          const found = HashMap.get((yield* Ref.get(state)).byId, request.client_id)
          // The secret is checked before the status, so only the client's holder learns it is inactive.
          const hashes = Option.match(found, {
            onNone: () => [],
            onSome: (stored) =>
              stored.next_secret === null ? [stored.secret.hash] : [stored.secret.hash, stored.next_secret.hash]
          })
          if (Option.isNone(found) || !Secrets.matchesAny(hashes, request.client_secret)) {
            return yield* fail(op, Rules.violations.invalidClient)
          }
          const client = found.value.client
          if (client.status !== "active") return yield* fail(op, Rules.violations.clientInactive)
          const asked = Arr.dedupe(request.scopes ?? [])
          const missing = asked.find((scope) => !client.scopes.includes(scope))
          if (missing !== undefined) return yield* fail(op, Rules.violations.scopeNotGranted(missing))
          const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          // The custom claims go first, so none can stand in for a claim that verifiers trust.
          const access_token = yield* keys.sign({
            ...request.extra,
            sub: client.client_id,
            iss: `stytch.com/${projectId}`,
            aud: [projectId],
            scope: (asked.length === 0 ? client.scopes : asked).join(" "),
            iat: now,
            nbf: now,
            exp: now + tokenLifetimeSeconds
          })
          const token = M2MToken.fromAnswer({
            ...(yield* respond),
            access_token,
            token_type: "bearer",
            expires_in: tokenLifetimeSeconds
          })
          // The store signed these claims itself a moment ago: failing to read them is a bug here.
          return yield* Either.match(token, { onLeft: Effect.dieMessage, onRight: Effect.succeed })
        })
    })

    for (const seed of options.seed ?? []) {
      const client_id = seed.client_id ?? (yield* generatedId)
      const fields = { ...seed, client_id, scopes: seed.scopes ?? [] }
      // The schemas every request passes first, as a create's would (status and the next secret too).
      const { next_client_secret, status, ...asCreate } = fields
      const shape = yield* Effect.either(Effect.all([
        validateRequest(Operations.create, asCreate),
        ...(next_client_secret === undefined ? [] : [
          validateRequest(Operations.create, { scopes: [], client_secret: next_client_secret })
        ]),
        ...(status === undefined ? [] : [validateRequest(Operations.update, { client_id, status })])
      ]))
      if (Either.isLeft(shape)) {
        return yield* Effect.dieMessage(`seed client ${client_id} breaks a rule: ${shape.left.message}`)
      }
      const secrets = seed.next_client_secret === undefined
        ? [seed.client_secret]
        : [seed.client_secret, seed.next_client_secret]
      const tooShort = secrets.some((secret) => Redacted.value(secret).length < 8)
      const broken = tooShort ? Option.some(Rules.violations.insecureClientSecret) : admit(fields, secrets)
      if (Option.isSome(broken)) {
        return yield* Effect.dieMessage(`seed client ${client_id} breaks a rule: ${broken.value.error_message}`)
      }
      const inserted = yield* Ref.modify(
        state,
        State.insert({
          client_id,
          client_name: seed.client_name ?? "",
          client_description: seed.client_description ?? "",
          status: seed.status ?? "active",
          scopes: fields.scopes,
          trusted_metadata: seed.trusted_metadata ?? {},
          secret: Secrets.hashSecret(seed.client_secret),
          next_secret: seed.next_client_secret === undefined ? null : Secrets.hashSecret(seed.next_client_secret)
        })
      )
      if (Either.isLeft(inserted)) return yield* Effect.dieMessage(`seed client ${client_id} appears twice`)
    }

    return {
      projectId,
      clients,
      credentials,
      tokens,
      keys,
      stored: Effect.map(Ref.get(state), (current) => Array.from(State.inCreationOrder(current)))
    }
  })

/**
 * The `M2MClients` service over a fresh in-memory store, with `ClientCredentials`, `M2MTokens` and
 * `SigningKeys` over the same store.
 */
export const layer = (
  options?: MemoryOptions
): Layer.Layer<M2MClients | ClientCredentials | M2MTokens | SigningKeys> =>
  Layer.effectContext(
    Effect.map(make(options), (store) =>
      Context.make(M2MClients, store.clients).pipe(
        Context.add(ClientCredentials, store.credentials),
        Context.add(M2MTokens, store.tokens),
        Context.add(SigningKeys, store.keys)
      ))
  )
