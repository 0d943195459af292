/**
 * Limits of Stytch's API that every implementation shares, so that a request refused by one is refused
 * by all, before it is sent.
 */

/**
 * The largest request body (JSON, in bytes) Stytch could accept: 1 MiB, as the emulator enforces. The
 * http layer refuses a larger request with `InvalidRequest` before sending it, rather than have the
 * server cut the upload off (an `EPIPE` the layer could not tell from a lost answer).
 */
export const maxRequestBodyBytes = 1024 * 1024
