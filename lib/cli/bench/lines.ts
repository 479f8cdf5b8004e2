/**
 * A child process that speaks JSON lines: commands go in on stdin, messages come back on
 * stdout one per line. The peer and the client runner both talk this way.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Message {
  type: string;
  [key: string]: unknown;
}

export class LineChild {
  readonly process: ChildProcessWithoutNullStreams;
  private readonly waiting: ((message: Message) => void)[] = [];
  private readonly queued: Message[] = [];
  private listener: ((message: Message) => void) | null = null;
  private stderr = '';
  private exited: Error | null = null;

  /** `registry` holds every child still running, for killing them all on a signal. */
  constructor(command: string, args: readonly string[], registry?: Set<LineChild>) {
    this.process = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    registry?.add(this);
    this.process.on('exit', () => registry?.delete(this));
    this.process.stderr.on('data', (data: Buffer) => {
      this.stderr = (this.stderr + data.toString()).slice(-4000);
    });
    createInterface({ input: this.process.stdout }).on('line', (line) => {
      let message: Message;
      try {
        message = JSON.parse(line) as Message;
      } catch {
        return;
      }
      if (message.type === 'progress' && this.listener) {
        this.listener(message);
        return;
      }
      const next = this.waiting.shift();
      if (next) next(message);
      else this.queued.push(message);
    });
    const onGone = (reason: string): void => {
      this.exited = new Error(`${command} ${reason}: ${this.stderr.trim() || 'no output'}`);
      for (const next of this.waiting.splice(0)) {
        next({ type: 'error', code: 'ECHILD', message: this.exited.message });
      }
    };
    this.process.on('error', (error) => onGone(`failed to start (${error.message})`));
    this.process.on('exit', (code, signal) => onGone(`exited (${signal ?? code})`));
  }

  /** Progress messages go to `listener`; everything else answers `next()`. */
  onProgress(listener: ((message: Message) => void) | null): void {
    this.listener = listener;
  }

  /** The next message that is not progress. */
  next(): Promise<Message> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.exited) {
      return Promise.resolve({ type: 'error', code: 'ECHILD', message: this.exited.message });
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  send(line: string): void {
    this.process.stdin.write(line + '\n');
  }

  /** Closes stdin and waits for the exit; kills the child if it takes longer than `ms`. */
  async close(ms = 5000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.stdin.end();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }
}
