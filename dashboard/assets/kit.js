// Shared parts of the dashboard page: the client's state, DOM helpers, formatting, lookups in
// the view, messages next to forms, the API call, and keyed table rendering. Everything from the
// lattice is put into the page as text, never as HTML.

export const app = {
  view: null,      // the latest View from the server
  namesSig: '',    // the names rows look up, see render
  viewAt: 0,       // when it arrived (ms), for ticking uptimes
  events: [],      // oldest first
  ws: null,
  wsState: 'connecting',
  retryMs: 500,
  retryAt: 0,
  // onTokenRequired is called when an answer says the dashboard wants its token (app.js shows
  // the login form).
  onTokenRequired: () => {},
};

// ---- DOM helpers -------------------------------------------------------------------------

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// h builds an element: h('td', {class: 'x', title: 't', dataset: {id}}, child, 'text', …).
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const svgNS = 'http://www.w3.org/2000/svg';
function icon(paths) {
  const s = document.createElementNS(svgNS, 'svg');
  s.setAttribute('viewBox', '0 0 16 16');
  s.setAttribute('width', '14');
  s.setAttribute('height', '14');
  s.setAttribute('aria-hidden', 'true');
  for (const d of paths) {
    const p = document.createElementNS(svgNS, 'path');
    p.setAttribute('d', d);
    p.setAttribute('fill', 'none');
    p.setAttribute('stroke', 'currentColor');
    p.setAttribute('stroke-width', '1.5');
    p.setAttribute('stroke-linecap', 'round');
    p.setAttribute('stroke-linejoin', 'round');
    s.append(p);
  }
  return s;
}
export const copyIcon = () => icon(['M5.5 5.5V3.2c0-.7.5-1.2 1.2-1.2h6.1c.7 0 1.2.5 1.2 1.2v6.1c0 .7-.5 1.2-1.2 1.2h-2.3', 'M2 6.7c0-.7.5-1.2 1.2-1.2h6.1c.7 0 1.2.5 1.2 1.2v6.1c0 .7-.5 1.2-1.2 1.2H3.2c-.7 0-1.2-.5-1.2-1.2z']);
export const checkIcon = () => icon(['M3 8.5l3 3 7-7']);

// ---- formatting --------------------------------------------------------------------------

export const short = (id) => (id && id.length > 12 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id || '');

// middle shortens a long reference in the middle, where it says least.
export const middle = (s, n = 38) => (s && s.length > n ? `${s.slice(0, Math.floor(n * 0.4))}…${s.slice(-Math.ceil(n * 0.6) + 1)}` : s || '');

export function duration(secs) {
  secs = Math.max(0, Math.floor(secs));
  const d = Math.floor(secs / 86400), hh = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60), s = secs % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function clock(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

// ---- lookups -----------------------------------------------------------------------------

export function claimsOf(id) {
  return (app.view?.claims || []).find((c) => c.sub === id);
}
export function hostName(id) {
  const host = (app.view?.hosts || []).find((x) => x.id === id);
  return host?.friendly_name || short(id);
}
export function actorName(id) {
  return (app.view?.actors || []).find((a) => a.id === id)?.name || claimsOf(id)?.name || '';
}
export function providerName(id) {
  return (app.view?.providers || []).find((p) => p.id === id)?.name || claimsOf(id)?.name || '';
}

// ---- small components --------------------------------------------------------------------

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch (_) { /* not a secure context or denied: fall back */ }
  const ta = h('textarea', { class: 'offscreen', readonly: true });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  try { document.execCommand('copy'); } finally { ta.remove(); }
}

// idLine is a shortened key with a button copying the whole key.
export function idLine(id) {
  const btn = h('button', { type: 'button', class: 'copy', title: `Copy ${id}`, 'aria-label': `Copy ${id}` }, copyIcon());
  btn.addEventListener('click', async () => {
    await copyText(id);
    btn.replaceChildren(checkIcon());
    btn.classList.add('copied');
    setTimeout(() => { btn.replaceChildren(copyIcon()); btn.classList.remove('copied'); }, 1200);
  });
  return h('span', { class: 'sub' }, h('code', { class: 'id', title: id }, short(id)), btn);
}

export function nameCell(name, id, fallback) {
  return [h('div', { class: name ? 'name' : 'name unnamed' }, name || fallback), idLine(id)];
}

export function chips(items, cls = 'chip') {
  if (!items.length) return h('span', { class: 'none' }, '—');
  return h('span', { class: 'chips' }, items.map((t) => h('span', { class: cls, title: t }, t)));
}

export function badge(kind, text, title) {
  return h('span', { class: `badge ${kind}`, title }, text);
}

// ---- messages next to forms --------------------------------------------------------------

const msgTimers = new WeakMap();
export function showMsg(el, kind, text) {
  clearTimeout(msgTimers.get(el));
  el.className = `${el.classList.contains('card-msg') ? 'card-msg ' : ''}form-msg ${kind}`;
  const sentence = text ? text[0].toUpperCase() + text.slice(1) : '';
  if (kind === 'ok') el.replaceChildren(checkIcon(), ' ', sentence);
  else el.replaceChildren(h('strong', {}, { error: 'Error', warn: 'Warning' }[kind] || 'Pending'), ' ', sentence);
  el.hidden = false;
  if (kind === 'ok') msgTimers.set(el, setTimeout(() => { el.hidden = true; }, 6000));
}
export function hideMsg(el) {
  clearTimeout(msgTimers.get(el));
  el.hidden = true;
}

// api sends a command; it answers the response's JSON, or throws an Error carrying .field. A
// string body is sent as it is, with contentType (a manifest in YAML); anything else as JSON.
export async function api(method, path, body, contentType = 'application/json') {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { 'Content-Type': contentType, Accept: 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`cannot reach the dashboard (${e.message})`);
  }
  let data = {};
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    if (res.status === 403 && data.field === 'token') app.onTokenRequired();
    const err = new Error(data.error || `HTTP ${res.status} ${res.statusText}`);
    err.field = data.field;
    throw err;
  }
  data.pending = res.status === 202;
  return data;
}

// showOutcome shows a command's answer: done, pending, or done with warnings.
function showOutcome(msg, data) {
  if (data.warnings && data.warnings.length) {
    showMsg(msg, 'warn', `${data.message || 'done'}, but ${data.warnings.join('; ')}`);
  } else {
    showMsg(msg, data.pending ? 'pending' : 'ok', data.message || 'Done.');
  }
}

// submitForm runs a command from a form, showing the outcome next to it; it answers the
// command's answer, or null when it failed.
export async function submitForm(form, method, path, body, contentType) {
  const btn = form.querySelector('button[type=submit]');
  const msg = form.querySelector('.form-msg');
  const label = btn.textContent;
  for (const el of form.elements) el.removeAttribute('aria-invalid');
  hideMsg(msg);
  btn.disabled = true;
  btn.textContent = btn.dataset.busy || 'Working…';
  form.setAttribute('aria-busy', 'true');
  try {
    const data = await api(method, path, body, contentType);
    showOutcome(msg, data);
    return data;
  } catch (e) {
    showMsg(msg, 'error', e.message);
    const field = e.field && form.elements[e.field === 'provider_id' ? 'provider' : e.field];
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
    return null;
  } finally {
    btn.disabled = false;
    btn.textContent = label;
    form.removeAttribute('aria-busy');
  }
}

// rowAction runs a command from a table row; the outcome shows above the table. It answers the
// command's answer, or null when it failed.
export async function rowAction(btn, cardMsg, method, path, body) {
  const label = btn.textContent;
  btn.disabled = true;
  btn.textContent = btn.dataset.busy || '…';
  hideMsg(cardMsg);
  try {
    const data = await api(method, path, body);
    showOutcome(cardMsg, data);
    return data;
  } catch (e) {
    showMsg(cardMsg, 'error', e.message);
    return null;
  } finally {
    btn.disabled = false;
    btn.textContent = label;
  }
}

// confirmButton needs a second click within 3s, so a stray click stops nothing.
export function confirmButton(text, confirmText, run) {
  const btn = h('button', { type: 'button', class: 'btn small danger' }, text);
  let timer = 0;
  btn.addEventListener('click', () => {
    if (!btn.classList.contains('confirm')) {
      btn.classList.add('confirm');
      btn.textContent = confirmText;
      timer = setTimeout(() => { btn.classList.remove('confirm'); btn.textContent = text; }, 3000);
      return;
    }
    clearTimeout(timer);
    btn.classList.remove('confirm');
    btn.textContent = text;
    run(btn);
  });
  return btn;
}

// ---- keyed table rendering ---------------------------------------------------------------

// sync makes tbody show one row per item, in order, reusing rows by key so inputs in them keep
// their state; build makes a row's cells, fill updates them.
export function sync(table, items, key, build, fill, emptyText) {
  const tbody = table.tBodies[0];
  const cols = table.tHead.rows[0].cells.length;
  const old = new Map();
  for (const tr of Array.from(tbody.rows)) {
    if (tr.dataset.key) old.set(tr.dataset.key, tr);
    else tr.remove();
  }
  let prev = null;
  for (const item of items) {
    const k = key(item);
    let tr = old.get(k);
    if (tr) {
      old.delete(k);
    } else {
      tr = h('tr', { dataset: { key: k } });
      build(tr, item);
      if (app.rendered) {
        tr.classList.add('new');
        setTimeout(() => tr.classList.remove('new'), 1600);
      }
    }
    // Refill a row only when what it shows changed, so its buttons stay put under the mouse.
    const sig = JSON.stringify(item) + app.namesSig;
    if (tr.dataset.sig !== sig) {
      fill(tr, item);
      tr.dataset.sig = sig;
    }
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const tr of old.values()) tr.remove();
  if (!items.length) {
    tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: cols }, emptyText)));
  }
}

export function setCells(tr, ...cells) {
  while (tr.cells.length < cells.length) tr.append(h('td'));
  cells.forEach((c, i) => {
    if (c === undefined) return; // keep the cell as it is
    const td = tr.cells[i];
    if (c && c.cls !== undefined) {
      td.className = c.cls;
      td.replaceChildren(...[].concat(c.content));
    } else {
      td.className = '';
      td.replaceChildren(...[].concat(c));
    }
  });
}
