/**
 * Matching a raw request path against the operations' routes, segment by segment, before anything has
 * been decoded.
 *
 * The router finds the handler; this check decides what the handler may act on. The `client_id`
 * segment is taken from the raw path and percent-decoded exactly once, so `..%2Fsearch` is the client
 * `../search`, `a%2Fb` is the client `a/b` and `%2541` is the client `%41`; none of them can reach
 * another route, because every other segment must equal the route's own text.
 */
import type { Operation } from "@stytch-effect/core"
import { Operations } from "@stytch-effect/core"

/** The operations by the names the service gives them: `create`, `get`, ..., `rotateStart`. */
export type OperationName = keyof typeof Operations

export const operationNames = Object.keys(Operations) as ReadonlyArray<OperationName>

/** The path of a request target: what comes before its query or fragment, without scheme and host. */
export const rawPathOf = (url: string): string => {
  const withoutHost = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(url)
  const path = withoutHost ? url.slice(withoutHost[0].length) || "/" : url
  const end = path.search(/[?#]/)
  return end < 0 ? path : path.slice(0, end)
}

export type PathMatch =
  /** The path is the operation's route; `client_id` is decoded when the route has one. */
  | { readonly _tag: "Matched"; readonly client_id: string | undefined }
  /** The path is the route's shape, but its client id segment is not valid percent-encoding. */
  | { readonly _tag: "MalformedClientId" }
  | { readonly _tag: "NoMatch" }

const decodeSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

export const matchPath = (op: Operation, rawPath: string): PathMatch => {
  const expected = op.route.split("/")
  const actual = rawPath.split("/")
  if (expected.length !== actual.length) return { _tag: "NoMatch" }
  let client_id: string | undefined = undefined
  for (let i = 0; i < expected.length; i++) {
    const segment = actual[i]!
    if (expected[i] === ":client_id") {
      // An empty segment would address the collection (`/v1/m2m/clients/`), not a client.
      if (segment === "") return { _tag: "NoMatch" }
      client_id = decodeSegment(segment)
      if (client_id === undefined) return { _tag: "MalformedClientId" }
    } else if (expected[i] !== segment) {
      return { _tag: "NoMatch" }
    }
  }
  return { _tag: "Matched", client_id }
}

const methodOrder = ["GET", "POST", "PUT", "DELETE"]

export type Resolution =
  | { readonly _tag: "Found"; readonly name: OperationName; readonly client_id: string | undefined }
  | { readonly _tag: "MalformedClientId" }
  | { readonly _tag: "MethodNotAllowed"; readonly allowed: ReadonlyArray<string> }
  | { readonly _tag: "NotFound" }

/**
 * What a method and raw path address, for the requests the router turned away: a route with another
 * method (405), a client id that is not valid percent-encoding (400), or nothing (404).
 */
export const resolve = (method: string, rawPath: string): Resolution => {
  const matches = operationNames
    .map((name) => ({ name, method: Operations[name].method, match: matchPath(Operations[name], rawPath) }))
    .filter(({ match }) => match._tag !== "NoMatch")
  const found = matches.find((candidate) => candidate.method === method)
  if (found) {
    return found.match._tag === "Matched"
      ? { _tag: "Found", name: found.name, client_id: found.match.client_id }
      : { _tag: "MalformedClientId" }
  }
  if (matches.length > 0) {
    const methods = new Set<string>(matches.map((candidate) => candidate.method))
    return { _tag: "MethodNotAllowed", allowed: methodOrder.filter((method) => methods.has(method)) }
  }
  return { _tag: "NotFound" }
}
