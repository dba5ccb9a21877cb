/**
 * The order pipelined HTTP/1.1 requests of one connection start in, on both HTTP/1.1 paths. A
 * client that pipelines expects what a Redis pipeline gives: each request sees the effects of
 * those before it and none of those after it. Started side by side as parsed (Node's server
 * does so), a GET pipelined behind a PUT of its key missed it (39 of 50 tries), and a txn
 * pipelined behind a PUT of the same key was applied first (20 of 20: key writes wait for the
 * end of the turn to share an entry, a txn is proposed at once).
 *
 * So requests run in runs: consecutive reads (`GET`) side by side — RFC 9112 §9.3.2 allows it
 * for safe methods — and consecutive key writes (`PUT`/`PATCH`/`DELETE /v1/kv/{key}`) side by side,
 * since they are proposed in the order they arrive (one coalescer, FIFO admission) and applied
 * in log order; any other request runs alone. A run starts once every answer before it is done.
 * Limits: `WAITING_MAX` requests waiting per connection.
 * (Key writes side by side keep a pipelining writer's throughput: run one at a time, 256
 * pipelining connections carried 31K of 48K writes/s offered, against 48K.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { UnavailableError } from '../errors';
import { type Req, type Res, sendError } from './http';

/**
 * Requests of one connection waiting for their run on Node's server (the lean path's
 * `PIPELINED_MAX`). Node's parser reads ahead while no answer is written; past this many, a
 * request is answered 503 `overloaded` in its turn, unapplied, instead of queued.
 */
export const WAITING_MAX = 256;

export type RunClass = 'read' | 'keyWrite' | 'alone';

const KEY_PREFIX = '/v1/kv/';

/** The run a request may share (see above). */
export function runClass(method: string, url: string): RunClass {
  if (method === 'GET' || method === 'HEAD') return 'read';
  if ((method === 'PUT' || method === 'DELETE' || method === 'PATCH') && url.startsWith(KEY_PREFIX)) return 'keyWrite';
  return 'alone';
}

/** Whether a request of class `next` may start beside running ones of class `running`. */
export function sharesRun(running: RunClass, next: RunClass): boolean {
  return next !== 'alone' && next === running;
}

interface Waiting {
  cls: RunClass;
  res: ServerResponse;
  start: () => void;
}

/** One connection's requests on Node's server (which parses ahead of its answers, within its limits). */
class ConnectionOrder {
  private running = 0;
  private runningClass: RunClass = 'alone';
  private readonly queue: Waiting[] = [];

  enter(w: Waiting): void {
    if (this.queue.length >= WAITING_MAX) {
      sendError(w.res, new UnavailableError(`more than ${WAITING_MAX} pipelined requests wait on this connection; send fewer at a time`, 'overloaded'));
      return;
    }
    this.queue.push(w);
    this.pump();
  }

  private pump(): void {
    while (this.queue.length > 0 && (this.running === 0 || sharesRun(this.runningClass, this.queue[0].cls))) {
      const next = this.queue.shift()!;
      this.running++;
      this.runningClass = next.cls;
      let left = false;
      const leave = (): void => {
        if (left) return;
        left = true;
        this.running--;
        this.pump();
      };
      next.res.once('finish', leave);
      next.res.once('close', leave);
      next.start();
    }
  }
}

/** `onRequest` for Node's HTTP/1.1 server, each request started in its connection's order. */
export function inPipelineOrder(onRequest: (req: Req, res: Res) => void): (req: IncomingMessage, res: ServerResponse) => void {
  const orders = new WeakMap<Socket, ConnectionOrder>();
  return (req, res) => {
    const socket: Socket = req.socket;
    let order = orders.get(socket);
    if (order === undefined) orders.set(socket, (order = new ConnectionOrder()));
    order.enter({ cls: runClass(req.method ?? 'GET', req.url ?? '/'), res, start: () => onRequest(req, res) });
  };
}
