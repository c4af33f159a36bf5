import { compareBytes, pageEnd, type PageNeed } from './sorted.js';

/**
 * Page requests for a listing that is being loaded, answered as soon as the load has certainly
 * seen the whole page (`progress`) rather than when it ends: a page of the catalog or of a tag
 * list from the first pages of a long object-store listing. The answer is a sorted list that is
 * complete up to the page's last name, not beyond.
 */
export class EarlyPages {
  private readonly waiting = new Set<Waiter>();
  /** What the load that is running has shown so far, for requests that come in between its pages. */
  private shown: { found: readonly string[]; sorted?: string[]; seenUpTo: (name: string) => boolean } | undefined;

  /** The page from `complete` (the whole listing) or from `progress`, whichever comes first. */
  wait(complete: Promise<string[]>, need: PageNeed): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const waiter = { need, resolve };
      this.waiting.add(waiter);
      complete.then(resolve, reject).finally(() => this.waiting.delete(waiter));
      if (this.shown) this.answer(waiter, this.shown);
    });
  }

  /** A load starts or ends: what it showed no longer counts (the kept listing answers then). */
  clear(): void {
    this.shown = undefined;
  }

  /**
   * The running load has found `found` (in any order) and has seen every name sorting at or
   * before `name` when `seenUpTo(name)`.
   */
  progress(found: readonly string[], seenUpTo: (name: string) => boolean): void {
    this.shown = { found: [...found], seenUpTo };
    for (const waiter of this.waiting) this.answer(waiter, this.shown);
  }

  private answer(waiter: Waiter, shown: NonNullable<EarlyPages['shown']>): void {
    shown.sorted ??= [...shown.found].sort(compareBytes);
    const end = pageEnd(shown.sorted, waiter.need);
    if (end !== undefined && shown.seenUpTo(end)) {
      this.waiting.delete(waiter);
      waiter.resolve(shown.sorted);
    }
  }
}

interface Waiter {
  need: PageNeed;
  resolve: (names: string[]) => void;
}
