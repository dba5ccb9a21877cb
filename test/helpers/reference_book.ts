/**
 * An L2 book computed independently of the store, straight from event objects, to compare
 * the store's books against (prices compared as their decimal strings' exact values).
 */
import { formatPrice, parsePrice } from '../../ts/market/records';

export interface RefEvent {
  kind: string;
  instrument: string;
  action?: string;
  side?: string;
  price?: string;
  size?: number;
  orders?: number;
}

export class ReferenceBook {
  private readonly sides = { bid: new Map<bigint, { size: number; orders: number }>(), ask: new Map<bigint, { size: number; orders: number }>() };
  private inSnapshot = false;

  apply(e: RefEvent): void {
    if (e.kind !== 'delta') return;
    if (e.action === 'snapshot' && !this.inSnapshot) {
      this.sides.bid.clear();
      this.sides.ask.clear();
      this.inSnapshot = true;
    }
    if (e.action !== 'snapshot') this.inSnapshot = false;
    if (e.action === 'clear') {
      this.sides.bid.clear();
      this.sides.ask.clear();
      return;
    }
    const side = this.sides[e.side as 'bid' | 'ask'];
    const price = parsePrice(e.price, 'price');
    if (e.action === 'cancel' || e.size === 0) side.delete(price);
    else side.set(price, { size: e.size!, orders: e.orders ?? 0 });
  }

  /** Bids high to low and asks low to high, like the store's view. */
  levels(depth: number): { bids: { price: string; size: number; orders: number }[]; asks: { price: string; size: number; orders: number }[] } {
    const list = (m: Map<bigint, { size: number; orders: number }>, desc: boolean) =>
      [...m.entries()]
        .sort(([a], [b]) => (a === b ? 0 : (a < b) !== desc ? -1 : 1))
        .slice(0, depth)
        .map(([p, l]) => ({ price: formatPrice(p), size: l.size, orders: l.orders }));
    return { bids: list(this.sides.bid, true), asks: list(this.sides.ask, false) };
  }
}
