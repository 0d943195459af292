/**
 * Search cursors. Clients are walked in creation order, and each client has a creation sequence
 * number that never changes and is never reused, so "after sequence N" is a position that stays
 * meaningful whatever is created or deleted between pages: a deleted client's number still orders the
 * rest, and a new client's number comes after every existing one. The cursor is that number, as
 * base64url JSON so callers treat it as opaque.
 */
import { Either, Schema } from "effect"

const CursorFields = Schema.Struct({ after: Schema.NonNegativeInt })

const Cursor = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(CursorFields))

const encode = Schema.encodeSync(Cursor)
const decode = Schema.decodeUnknownEither(Cursor)

/** The cursor of the page that starts after the client with this sequence number. */
export const after = (sequence: number): string => encode({ after: sequence })

/**
 * The sequence number a cursor starts after; 0 (before every client) for the first page. `Left` for a
 * cursor that this store cannot have issued.
 */
export const position = (cursor: string | undefined, nextSequence: number): Either.Either<number, void> => {
  if (cursor === undefined || cursor === "") return Either.right(0)
  const decoded = decode(cursor)
  return Either.isRight(decoded) && decoded.right.after < nextSequence
    ? Either.right(decoded.right.after)
    : Either.left(undefined)
}
