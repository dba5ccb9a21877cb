/**
 * The leader-transfer control: shown when the node's API would accept it from this page — auth
 * off, or the token in the page's fragment (`/dashboard#token=...`) holds the admin role
 * (asked once from `GET /v1/auth/whoami`). Voters other than the leader are offered; the answer
 * (the new term, or the server's error) is shown beside the button.
 */
import { byId } from './views.js';
import type { ClusterView } from './wire.js';

/** The token from the page's fragment (never sent in a URL the server logs). */
export function pageToken(): string | null {
  return new URLSearchParams(location.hash.slice(1)).get('token');
}

function authHeaders(): Record<string, string> {
  const token = pageToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Shows the control if this page may use it. */
export async function enableAdmin(): Promise<void> {
  const res = await fetch('/v1/auth/whoami', { headers: authHeaders() });
  if (!res.ok) return;
  const who = (await res.json()) as { auth: 'on' | 'off'; admin?: boolean };
  if (who.auth === 'on' && who.admin !== true) return;
  const form = byId('transfer-form') as HTMLFormElement;
  form.hidden = false;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void transfer();
  });
}

async function transfer(): Promise<void> {
  const to = (byId('transfer-to') as HTMLSelectElement).value;
  const out = byId('transfer-result');
  if (!to) return;
  out.textContent = `handing leadership to ${to}…`;
  const res = await fetch('/v1/cluster/leader', { method: 'POST', headers: { ...authHeaders(), 'content-type': 'application/json' }, body: JSON.stringify({ id: to }) });
  const body = (await res.json()) as { term?: number; error?: { code: string; message: string } };
  out.textContent = res.ok ? `${to} leads (term ${body.term ?? '?'})` : `refused: ${body.error?.code ?? res.status} — ${body.error?.message ?? ''}`;
}

/** The voters a transfer may go to (every voter but the leader), kept selected across redraws. */
export function renderTransferTargets(c: ClusterView): void {
  const select = byId('transfer-to') as HTMLSelectElement;
  const names = c.members.filter((m) => !m.learner && m.id !== c.leader).map((m) => m.name);
  if (names.join() === [...select.options].map((o) => o.value).join()) return;
  const chosen = select.value;
  select.replaceChildren(...names.map((n) => Object.assign(document.createElement('option'), { value: n, textContent: n })));
  if (names.includes(chosen)) select.value = chosen;
}
