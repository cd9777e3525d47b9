import type { Clock } from "../../src/kernel/clock.ts";

/**
 * A clock a test moves by hand. Each reading also moves it on by one
 * millisecond, as real time would, so two writes never share a timestamp.
 */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | string = new Date()) {
    this.t = new Date(start).getTime();
  }
  now(): Date {
    this.t += 1;
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  advanceDays(days: number): void {
    this.advance(days * 86_400_000);
  }
}
