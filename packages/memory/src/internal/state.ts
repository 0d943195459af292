/**
 * The store's state as one immutable value, so that every operation is a pure step from one state to
 * the next, applied atomically with `Ref.modify`, and a search reads a consistent snapshot with no lock.
 *
 * Clients are held twice: by id, for the operations on one client, and by creation sequence number in
 * a red-black tree, for search, which walks them in creation order and finds a cursor's position in
 * O(log n). The tree holds the clients themselves, not their ids, so a walk never hashes an id.
 */
import { M2MClient } from "@stytch-effect/core"
import { Either, HashMap, Number as Num, Option, RedBlackTree } from "effect"
import type { Violation } from "./rules.js"
import { violations } from "./rules.js"
import type { HashedSecret } from "./secrets.js"

/**
 * One client as the store holds it: the public view (kept in step with the secrets' last fours) and
 * the hashes of its secrets. No plain secret is ever held.
 */
export interface StoredClient {
  /** Its place in creation order: never changes and is never reused. */
  readonly sequence: number
  readonly client: M2MClient
  readonly secret: HashedSecret
  /** Present while a rotation is in progress. */
  readonly next_secret: HashedSecret | null
}

export interface State {
  /** The sequence number the next client gets; numbers start at 1 so that cursor position 0 is "before all". */
  readonly nextSequence: number
  readonly byId: HashMap.HashMap<string, StoredClient>
  /** The same clients by sequence number, in creation order. */
  readonly byCreation: RedBlackTree.RedBlackTree<number, StoredClient>
}

export const empty: State = {
  nextSequence: 1,
  byId: HashMap.empty(),
  byCreation: RedBlackTree.empty(Num.Order)
}

/** What a step answers (the value, or the rule it broke) and the state after it. */
export type Step<A> = readonly [Either.Either<A, Violation>, State]

/** The fields of a new client, already checked against the rules. */
export interface NewClient {
  readonly client_id: string
  readonly client_name: string
  readonly client_description: string
  readonly status: M2MClient["status"]
  readonly scopes: ReadonlyArray<string>
  readonly trusted_metadata: M2MClient["trusted_metadata"]
  readonly secret: HashedSecret
  readonly next_secret: HashedSecret | null
}

/**
 * The public view of a client. Its fields come from requests that passed their schemas and the store's
 * rules, so the class need not check them again (a check costs more than the rest of an operation).
 */
export const view = (
  fields: Omit<NewClient, "secret" | "next_secret">,
  secret: HashedSecret,
  nextSecret: HashedSecret | null
): M2MClient =>
  new M2MClient({
    client_id: fields.client_id,
    client_name: fields.client_name,
    client_description: fields.client_description,
    status: fields.status,
    scopes: fields.scopes,
    client_secret_last_four: secret.last_four,
    next_client_secret_last_four: nextSecret?.last_four ?? null,
    trusted_metadata: fields.trusted_metadata
  }, { disableValidation: true })

/**
 * A frozen deep copy of a list or object that came from a caller, so that neither what the caller
 * keeps nor what a response hands out can change the store behind its `Ref`. Taken where a caller's
 * value enters the store (a new client, an update); a rotation reuses the stored copies as they are.
 */
export const owned = <A extends object>(value: A): A => {
  const copy = structuredClone(value)
  const pending: Array<object> = [copy]
  while (pending.length > 0) {
    const next = Object.freeze(pending.pop()!)
    for (const item of Object.values(next)) if (typeof item === "object" && item !== null) pending.push(item)
  }
  return copy
}

export const insert = (fields: NewClient) => (state: State): Step<StoredClient> => {
  if (HashMap.has(state.byId, fields.client_id)) return [Either.left(violations.duplicateClientId), state]
  const stored: StoredClient = {
    sequence: state.nextSequence,
    client: view(
      { ...fields, scopes: owned(fields.scopes), trusted_metadata: owned(fields.trusted_metadata) },
      fields.secret,
      fields.next_secret
    ),
    secret: fields.secret,
    next_secret: fields.next_secret
  }
  return [Either.right(stored), {
    nextSequence: state.nextSequence + 1,
    byId: HashMap.set(state.byId, fields.client_id, stored),
    byCreation: RedBlackTree.insert(state.byCreation, stored.sequence, stored)
  }]
}

/** Replaces one client by what `change` makes of it, or answers the rule `change` found broken. */
export const update = (
  clientId: string,
  change: (stored: StoredClient) => Either.Either<StoredClient, Violation>
) =>
(state: State): Step<StoredClient> => {
  const found = HashMap.get(state.byId, clientId)
  if (Option.isNone(found)) return [Either.left(violations.clientNotFound), state]
  const changed = change(found.value)
  if (Either.isLeft(changed)) return [changed, state]
  const stored = changed.right
  return [changed, {
    nextSequence: state.nextSequence,
    byId: HashMap.set(state.byId, clientId, stored),
    byCreation: RedBlackTree.insert(
      RedBlackTree.removeFirst(state.byCreation, stored.sequence),
      stored.sequence,
      stored
    )
  }]
}

export const remove = (clientId: string) => (state: State): Step<StoredClient> => {
  const found = HashMap.get(state.byId, clientId)
  if (Option.isNone(found)) return [Either.left(violations.clientNotFound), state]
  return [Either.right(found.value), {
    nextSequence: state.nextSequence,
    byId: HashMap.remove(state.byId, clientId),
    byCreation: RedBlackTree.removeFirst(state.byCreation, found.value.sequence)
  }]
}

/** The clients created after sequence number `after`, in creation order. */
export const inCreationOrder = function*(state: State, after = 0): Generator<StoredClient> {
  for (const [, stored] of RedBlackTree.greaterThan(state.byCreation, after)) yield stored
}
