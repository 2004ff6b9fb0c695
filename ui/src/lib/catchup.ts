// Whether the board must be read again when the event stream (re)opens. Events sent before the
// stream opened are not received; the server says where the stream starts (the last event-log
// entry whose events it may not deliver) and each board read says up to which entry it reflects
// the log. A read at or past the stream's start has missed nothing: at a page load the board,
// read while the page is still loading, then need not be read a second time.

export class StreamCatchUp {
  /** Where the open stream starts; null while there is none. */
  #from: number | null = null;
  /** Up to which log entry the last board read reflects; null before the first read. */
  #through: number | null = null;

  /**
   * The stream is live from `from` (undefined: the transport could not say, as when the desktop
   * app could not name its position). Returns whether to read the board again now.
   */
  live(from: number | undefined): boolean {
    if (from === undefined) {
      this.#from = null;
      return true;
    }
    this.#from = from;
    // A read still on its way decides when it lands (`read`).
    return this.#through !== null && this.#through < from;
  }

  /** The stream dropped: until it is live again, reads are not checked against it. */
  down(): void {
    this.#from = null;
  }

  /** A board read reflecting the log up to `through`. Returns whether to read the board again. */
  read(through: number): boolean {
    this.#through = through;
    return this.#from !== null && through < this.#from;
  }
}
