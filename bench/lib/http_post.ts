/**
 * A lean HTTP/1.1 POST for load generators: node:http over a keep-alive agent. fetch (undici)
 * cost the market benchmark's producers ~3× the CPU per 96 KB batch (2.7 vs 0.9 CPU-seconds
 * per 8 s at ~100K events/s, measured with /proc), CPU the nodes under test share on 2 cores.
 */
import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  json: unknown;
}

/** Sockets per agent: more than the producers any benchmark runs. */
const SOCKETS_MAX = 64;

export class HttpPoster {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: SOCKETS_MAX });

  post(url: string, body: Buffer, contentType: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'POST', agent: this.agent, headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = { unparsed: text.slice(0, 200) };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
