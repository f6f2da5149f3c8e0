// An update that a service fans out reaches the gateway once per stream: the
// same bytes on every recipient's upstream call, one call after another.
// Rendering the client frame once and writing those same bytes to every
// client saves the JSON rendering and the text encoding per client; a
// comparison of the message bytes stands in for both.

/** The frame of the last message rendered, kept by that message's bytes. */
export class LastFrame<F> {
  readonly #render: (bytes: Uint8Array) => F;
  #bytes: Buffer | undefined;
  #frame: F | undefined;

  constructor(render: (bytes: Uint8Array) => F) {
    this.#render = render;
  }

  /**
   * The frame of `bytes`: the last one's when the bytes are the same,
   * otherwise rendered and kept in its place. Throws what rendering throws,
   * and then keeps the frame it had.
   */
  of(bytes: Uint8Array): F {
    const last = this.#bytes;
    if (last !== undefined && last.length === bytes.length && last.equals(bytes)) return this.#frame as F;
    const frame = this.#render(bytes);
    // A copy: the message is a view into a read chunk that is not ours to keep.
    this.#bytes = Buffer.from(bytes);
    this.#frame = frame;
    return frame;
  }
}
