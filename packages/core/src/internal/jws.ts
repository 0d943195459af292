/**
 * A compact JWS signed with RS256, read and verified the way jose 5's `compactVerify` does, but with
 * `node:crypto`'s synchronous `verify`: the one part of jose the verifier does itself (jose still
 * imports the keys).
 *
 * Why: jose 5 hands each RSA verification to the libuv thread pool (a promisified `crypto.verify`),
 * and on the hottest path of an API that hop costs more than the RSA arithmetic itself. The
 * "signature only" rows of `packages/bench/src/verify.ts` measure both side by side in one run; see
 * `packages/bench/results/verify.md`. `jws.test.ts` runs every token through jose and this module
 * and checks that this one rejects everything jose rejects.
 *
 * The checks are jose's `flattenedVerify`'s for a compact JWS with `algorithms: ["RS256"]`, plus
 * `jwtVerify`'s refusal of an unencoded payload, and stricter on base64url: a segment must be
 * canonical base64url (jose's `Buffer` decoding skips stray characters).
 */
import { Either } from "effect"
import type { KeyObject } from "node:crypto"
import { verify } from "node:crypto"

/** A compact JWS whose header this verifier accepts, its signature not yet checked. */
export interface CompactJws {
  readonly header: Readonly<Record<string, unknown>>
  /** The key the header names. */
  readonly kid: string
  /** The bytes the signature covers: the header and payload segments, as sent. */
  readonly signingInput: Uint8Array
  readonly signature: Uint8Array
  /** The payload, decoded to text: trust it only once `verifySignature` says so. */
  readonly payload: string
}

/** An attacker's header value, shortened and quoted so a message stays a message. */
const quote = (value: unknown): string => JSON.stringify(String(value).slice(0, 40))

/** The bytes of a canonical base64url segment (no padding, no stray characters), or `undefined`. */
const decodeSegment = (segment: string): Buffer | undefined => {
  const bytes = Buffer.from(segment, "base64url")
  return bytes.toString("base64url") === segment ? bytes : undefined
}

/** Stytch's are about 45 characters; any key id is far shorter than this. */
const maxKidLength = 256

/**
 * Whether a `kid` could name a key: short, and no control or line-break character. It goes into
 * `UnknownSigningKey`'s message, so into logs, where an attacker's 5,000 characters or forged log
 * line do not belong.
 */
const isKeyId = (kid: string): boolean => {
  if (kid.length > maxKidLength) return false
  for (let i = 0; i < kid.length; i++) {
    const code = kid.charCodeAt(i)
    if (code < 0x20 || (code >= 0x7f && code < 0xa0) || code === 0x2028 || code === 0x2029) return false
  }
  return true
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * jose's `validateCrit` with `b64` the only extension it knows, and `b64: false` refused as `jwtVerify`
 * refuses it: a JWT's payload is always base64url.
 */
const critProblem = (header: Record<string, unknown>): string | undefined => {
  const crit = header["crit"]
  if (crit === undefined) return undefined
  if (
    !Array.isArray(crit) || crit.length === 0 ||
    crit.some((name) => typeof name !== "string" || name.length === 0)
  ) {
    return "the header's crit is not a list of names"
  }
  for (const name of crit as Array<string>) {
    if (name !== "b64") return `the header's crit names ${quote(name)}, an extension this verifier does not know`
    if (header[name] === undefined) return `the header's crit names ${quote(name)}, which the header lacks`
  }
  const b64 = header["b64"]
  if (typeof b64 !== "boolean") return "the header's b64 is not a boolean"
  if (!b64) return "the payload is not base64url (b64: false), which a JWT's never is"
  return undefined
}

/**
 * The token's parts, once its shape and header are acceptable: three canonical base64url segments, a
 * JSON object header, `alg` RS256, a `kid`, no `crit` extension besides `b64: true`. `Left` says what
 * is wrong, never quoting more of the token than 40 characters of a header value.
 */
export const parseCompact = (token: string): Either.Either<CompactJws, string> => {
  const parts = token.split(".")
  if (parts.length !== 3) return Either.left("not a JWT (three dot-separated parts)")
  const [headerSegment, payloadSegment, signatureSegment] = parts as [string, string, string]
  const headerBytes = decodeSegment(headerSegment)
  let header: unknown
  try {
    header = headerBytes === undefined ? undefined : JSON.parse(headerBytes.toString("utf8"))
  } catch {
    header = undefined
  }
  if (!isObject(header)) return Either.left("the header is not base64url JSON")
  const crit = critProblem(header)
  if (crit !== undefined) return Either.left(crit)
  if (header["alg"] !== "RS256") {
    return Either.left(`the token is signed with ${quote(header["alg"])}; only RS256 is accepted`)
  }
  const kid = header["kid"]
  if (typeof kid !== "string" || kid.length === 0) return Either.left("the header names no key (kid)")
  if (!isKeyId(kid)) return Either.left("the header's kid is not a key id")
  const payload = decodeSegment(payloadSegment)
  if (payload === undefined) return Either.left("the payload is not base64url")
  const signature = decodeSegment(signatureSegment)
  if (signature === undefined || signature.length === 0) return Either.left("the signature is not base64url")
  return Either.right({
    header,
    kid,
    // Segments are base64url by now, so one byte per character.
    signingInput: Buffer.from(token.slice(0, headerSegment.length + 1 + payloadSegment.length), "latin1"),
    signature,
    payload: payload.toString("utf8")
  })
}

/**
 * Whether an RSA public key of 2048 bits or more, as jose requires for RS256. Checked when keys are
 * imported, so a verification only looks its key up.
 */
export const isRs256Key = (key: KeyObject): boolean =>
  key.type === "public" && key.asymmetricKeyType === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048

/** Whether `key` (an `isRs256Key`) made the signature: RSASSA-PKCS1-v1_5 over SHA-256, on this thread. */
export const verifySignature = (jws: CompactJws, key: KeyObject): boolean => {
  try {
    return verify("RSA-SHA256", jws.signingInput, key, jws.signature)
  } catch {
    // A signature of the wrong length, say: jose answers false too.
    return false
  }
}
