import type { Logger } from '../observability/log.ts';

/**
 * Background work a module asks for after its writes (`soon`: one run carries every ask made
 * meanwhile) and that also runs every `everyMs` (what a process that stopped left behind). One run
 * at a time; a failure is logged and left to the next run.
 */
export class Recurring {
  private timer: ReturnType<typeof setInterval> | undefined;
  private soonTimer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly what: string,
    private readonly work: () => Promise<unknown>,
    private readonly options: { soonMs: number; everyMs: number; log: Logger },
  ) {}

  start(): this {
    this.timer = setInterval(() => this.run(), this.options.everyMs);
    return this;
  }

  /** Runs within `soonMs` (or right after the run under way). */
  soon(): void {
    if (this.soonTimer || this.stopped) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.run();
    }, this.options.soonMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
    await this.running;
  }

  private run(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.work()
      .then(
        () => {},
        (error) => this.options.log.warn(`${this.what} failed; the next run tries again`, { error }),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }
}
