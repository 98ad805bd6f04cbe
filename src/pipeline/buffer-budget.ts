// One memory budget for every buffer an agent can make sluice fill (DESIGN.md §1, issue 11
// item 6): SigV4 bodies held for hashing, LLM log captures, DNS replies waiting for a slow
// reader, scrub windows. Each buffer also has a per-request cap of its own (413, truncation,
// a bounded queue); the budget bounds their sum, so many requests that each stay under their
// cap (500 streams × 10 MiB − 1) cannot add up to an OOM: past it, 503 over_capacity.
//
// A holder opens a reservation, grows it as it buffers and releases it when done. Release is
// idempotent; a reservation whose owner object is garbage-collected without release (a path
// nobody thought of) is released then, so a leak can delay capacity but never keep it.

import { SluiceError } from '../errors/codes.ts';
import { DEFAULTS } from '../config/defaults.ts';

export class BufferReservation {
  readonly #budget: BufferBudget;
  #bytes = 0;
  #released = false;

  constructor(budget: BufferBudget) {
    this.#budget = budget;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Adds `bytes` to the reservation; false, with nothing added, when the budget has no room. */
  grow(bytes: number): boolean {
    if (this.#released || !this.#budget.take(bytes)) return false;
    this.#bytes += bytes;
    return true;
  }

  /** Gives back part of it (a DNS reply that has been written). */
  shrink(bytes: number): void {
    const n = Math.min(bytes, this.#bytes);
    this.#bytes -= n;
    this.#budget.give(n);
  }

  /** Gives back everything, for good; later grow() calls fail. Safe to call more than once. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.shrink(this.#bytes);
  }
}

const collected = new FinalizationRegistry<BufferReservation>((reservation) => reservation.release());

export class BufferBudget {
  #total: number;
  #used = 0;

  constructor(totalBytes: number) {
    this.#total = totalBytes;
  }

  get totalBytes(): number {
    return this.#total;
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** A reload may change the total; holders over a smaller one keep what they have. */
  setTotal(totalBytes: number): void {
    this.#total = totalBytes;
  }

  /**
   * An empty reservation. With `owner`, it is also released when the owner (an exchange, a
   * socket) is garbage-collected, as a backstop for a path that forgot to release it.
   */
  open(owner?: object): BufferReservation {
    const reservation = new BufferReservation(this);
    if (owner !== undefined) collected.register(owner, reservation);
    return reservation;
  }

  /** For BufferReservation only. */
  take(bytes: number): boolean {
    if (bytes < 0 || this.#used + bytes > this.#total) return false;
    this.#used += bytes;
    return true;
  }

  /** For BufferReservation only. */
  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

/** The process's budget: every sluice in one process shares its memory. */
export const sharedBufferBudget = new BufferBudget(DEFAULTS.proxy.bufferBudgetBytes);

/**
 * HTTP/2 request bodies' receive windows (capture/h2-receive-window.ts), of the same size as
 * the shared budget but kept apart from it: a window is held for a stream's whole life, and
 * drawing it from the shared budget would let open uploads starve SigV4 hashing and LLM
 * captures (and the other way round). Together the two bound sluice's buffering at twice
 * `[proxy] buffer_budget_bytes`.
 */
export const h2WindowBudget = new BufferBudget(DEFAULTS.proxy.bufferBudgetBytes);

/** Sets the shared total from `[proxy] buffer_budget_bytes` (at start and on every reload). */
export function configureBufferBudget(totalBytes: number): void {
  sharedBufferBudget.setTotal(totalBytes);
}

/** Sets the h2 window budget's total, the same `[proxy] buffer_budget_bytes`. */
export function configureH2WindowBudget(totalBytes: number): void {
  h2WindowBudget.setTotal(totalBytes);
}

/** 503 over_capacity: the shared budget cannot hold what this request needs buffered. */
export function overCapacity(what: string): SluiceError {
  return new SluiceError('over_capacity', 503, `sluice is holding too much buffered data to take ${what} now (the [proxy] buffer_budget_bytes budget is spent); retry later`);
}
