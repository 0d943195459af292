/**
 * `UndiciHttpClient`'s refusal of a body over its bound, as the cause of the `ResponseError` it fails
 * with: the layer tells it from a dropped connection by this (another attempt would read as much again).
 */
export class BodyTooLarge {
  constructor(readonly maxBodyBytes: number) {}
}

/** The failure for a body over `maxBodyBytes`: our own words, quoting nothing of the body. */
export const bodyTooLarge = (maxBodyBytes: number) => ({
  description: `the body is larger than ${maxBodyBytes} bytes`,
  cause: new BodyTooLarge(maxBodyBytes)
})
