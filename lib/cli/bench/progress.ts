/**
 * One status line on stderr, rewritten in place on a terminal. Elsewhere (CI logs) only
 * finished steps are printed, one line each.
 */
export class StatusLine {
  private readonly tty = process.stderr.isTTY === true;
  private shown = false;

  update(text: string): void {
    if (!this.tty) return;
    process.stderr.write('\r\x1b[K' + text);
    this.shown = true;
  }

  /** A line that stays. */
  log(text: string): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
    process.stderr.write(text + '\n');
  }

  clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
