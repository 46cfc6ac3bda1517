// Trellis lattice dashboard: renders the view the server streams over the websocket and sends
// commands to the JSON API. Plain JavaScript, no build step; everything from the lattice is put
// into the page as text, never as HTML.
'use strict';

(() => {
  const MAX_EVENTS = 200;

  const app = {
    view: null,      // the latest View from the server
    namesSig: '',    // the names rows look up, see render
    viewAt: 0,       // when it arrived (ms), for ticking uptimes
    events: [],      // oldest first
    ws: null,
    wsState: 'connecting',
    retryMs: 500,
    retryAt: 0,
  };

  // ---- DOM helpers -------------------------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // h builds an element: h('td', {class: 'x', title: 't', dataset: {id}}, child, 'text', …).
  function h(tag, attrs, ...children) {
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
  const copyIcon = () => icon(['M5.5 5.5V3.2c0-.7.5-1.2 1.2-1.2h6.1c.7 0 1.2.5 1.2 1.2v6.1c0 .7-.5 1.2-1.2 1.2h-2.3', 'M2 6.7c0-.7.5-1.2 1.2-1.2h6.1c.7 0 1.2.5 1.2 1.2v6.1c0 .7-.5 1.2-1.2 1.2H3.2c-.7 0-1.2-.5-1.2-1.2z']);
  const checkIcon = () => icon(['M3 8.5l3 3 7-7']);

  // ---- formatting --------------------------------------------------------------------------

  const short = (id) => (id && id.length > 12 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id || '');

  // middle shortens a long reference in the middle, where it says least.
  const middle = (s, n = 38) => (s && s.length > n ? `${s.slice(0, Math.floor(n * 0.4))}…${s.slice(-Math.ceil(n * 0.6) + 1)}` : s || '');

  function duration(secs) {
    secs = Math.max(0, Math.floor(secs));
    const d = Math.floor(secs / 86400), hh = Math.floor((secs % 86400) / 3600);
    const m = Math.floor((secs % 3600) / 60), s = secs % 60;
    if (d) return `${d}d ${hh}h`;
    if (hh) return `${hh}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function clock(t) {
    const d = new Date(t);
    if (Number.isNaN(d.getTime())) return '';
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  // ---- lookups -----------------------------------------------------------------------------

  function claimsOf(id) {
    return (app.view?.claims || []).find((c) => c.sub === id);
  }
  function hostName(id) {
    const host = (app.view?.hosts || []).find((x) => x.id === id);
    return host?.friendly_name || short(id);
  }
  function actorName(id) {
    return (app.view?.actors || []).find((a) => a.id === id)?.name || claimsOf(id)?.name || '';
  }
  function providerName(id) {
    return (app.view?.providers || []).find((p) => p.id === id)?.name || claimsOf(id)?.name || '';
  }

  // ---- small components --------------------------------------------------------------------

  async function copyText(text) {
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
  function idLine(id) {
    const btn = h('button', { type: 'button', class: 'copy', title: `Copy ${id}`, 'aria-label': `Copy ${id}` }, copyIcon());
    btn.addEventListener('click', async () => {
      await copyText(id);
      btn.replaceChildren(checkIcon());
      btn.classList.add('copied');
      setTimeout(() => { btn.replaceChildren(copyIcon()); btn.classList.remove('copied'); }, 1200);
    });
    return h('span', { class: 'sub' }, h('code', { class: 'id', title: id }, short(id)), btn);
  }

  function nameCell(name, id, fallback) {
    return [h('div', { class: name ? 'name' : 'name unnamed' }, name || fallback), idLine(id)];
  }

  function chips(items, cls = 'chip') {
    if (!items.length) return h('span', { class: 'none' }, '—');
    return h('span', { class: 'chips' }, items.map((t) => h('span', { class: cls, title: t }, t)));
  }

  function badge(kind, text, title) {
    return h('span', { class: `badge ${kind}`, title }, text);
  }

  const providerBadge = {
    healthy: ['ok', 'healthy'],
    unhealthy: ['bad', 'unhealthy'],
    awaiting: ['neutral', 'awaiting health'],
    restarting: ['warn', 'restarting'],
    starting: ['info', 'starting'],
    stopping: ['neutral', 'stopping'],
  };

  // ---- messages next to forms --------------------------------------------------------------

  const msgTimers = new WeakMap();
  function showMsg(el, kind, text) {
    clearTimeout(msgTimers.get(el));
    el.className = `${el.classList.contains('card-msg') ? 'card-msg ' : ''}form-msg ${kind}`;
    const sentence = text ? text[0].toUpperCase() + text.slice(1) : '';
    if (kind === 'ok') el.replaceChildren(checkIcon(), ' ', sentence);
    else el.replaceChildren(h('strong', {}, { error: 'Error', warn: 'Warning' }[kind] || 'Pending'), ' ', sentence);
    el.hidden = false;
    if (kind === 'ok') msgTimers.set(el, setTimeout(() => { el.hidden = true; }, 6000));
  }
  function hideMsg(el) {
    clearTimeout(msgTimers.get(el));
    el.hidden = true;
  }

  // api sends a command; it answers the response's JSON, or throws an Error carrying .field.
  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`cannot reach the dashboard (${e.message})`);
    }
    let data = {};
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) {
      const err = new Error(data.error || `HTTP ${res.status} ${res.statusText}`);
      err.field = data.field;
      throw err;
    }
    data.pending = res.status === 202;
    return data;
  }

  // submitForm runs a command from a form, showing the outcome next to it.
  async function submitForm(form, method, path, body) {
    const btn = form.querySelector('button[type=submit]');
    const msg = form.querySelector('.form-msg');
    const label = btn.textContent;
    for (const el of form.elements) el.removeAttribute('aria-invalid');
    hideMsg(msg);
    btn.disabled = true;
    btn.textContent = btn.dataset.busy || 'Working…';
    form.setAttribute('aria-busy', 'true');
    try {
      const data = await api(method, path, body);
      if (data.warnings && data.warnings.length) {
        showMsg(msg, 'warn', `${data.message || 'done'}, but ${data.warnings.join('; ')}`);
      } else {
        showMsg(msg, data.pending ? 'pending' : 'ok', data.message || 'Done.');
      }
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

  // rowAction runs a command from a table row; the outcome shows above the table.
  async function rowAction(btn, cardMsg, method, path, body) {
    const label = btn.textContent;
    btn.disabled = true;
    btn.textContent = btn.dataset.busy || '…';
    hideMsg(cardMsg);
    try {
      const data = await api(method, path, body);
      showMsg(cardMsg, data.pending ? 'pending' : 'ok', data.message || 'Done.');
    } catch (e) {
      showMsg(cardMsg, 'error', e.message);
    } finally {
      btn.disabled = false;
      btn.textContent = label;
    }
  }

  // confirmButton needs a second click within 3s, so a stray click stops nothing.
  function confirmButton(text, confirmText, run) {
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
  function sync(table, items, key, build, fill, emptyText) {
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

  function setCells(tr, ...cells) {
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

  // ---- hosts -------------------------------------------------------------------------------

  function staleBadge(silent) {
    const b = badge('warn', `stale · silent ${duration(silent)}`, 'No heartbeat lately; removed if it stays silent');
    b.dataset.silent = silent;
    return b;
  }

  function renderHosts(v) {
    sync($('#hosts-table'), v.hosts, (x) => x.id, () => {}, (tr, x) => {
      tr.dataset.hostId = x.id;
      tr.classList.toggle('stale', x.stale);
      const labels = Object.entries(x.labels || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, val]) => `${k}=${val}`);
      setCells(tr,
        nameCell(x.friendly_name, x.id, 'unnamed host'),
        chips(labels),
        { cls: 'mono muted', content: x.version || '—' },
        { cls: 'num', content: h('span', { dataset: { uptime: x.uptime_seconds, stale: x.stale ? '1' : '' } }, duration(x.uptime_seconds)) },
        { cls: 'num', content: [String(x.actors), x.instances !== x.actors ? h('span', { class: 'muted' }, ` · ${x.instances} inst.`) : ''] },
        { cls: 'num', content: String(x.providers) },
        x.stale ? staleBadge(x.silent_seconds) : badge('ok', 'live'));
    }, 'No hosts answer on this lattice yet.');
  }

  // ---- actors ------------------------------------------------------------------------------

  function renderActors(v) {
    const rows = [];
    for (const a of v.actors) for (const p of a.hosts) rows.push({ a, p });
    sync($('#actors-table'), rows, (r) => `${r.a.id}@${r.p.host_id}`, (tr, r) => {
      const input = h('input', { type: 'number', class: 'scale', min: '0', max: '65535', 'aria-label': 'Instances', name: 'count' });
      input.addEventListener('input', () => { input.dataset.dirty = '1'; });
      const scale = h('button', { type: 'button', class: 'btn small', 'data-busy': 'Scaling…' }, 'Scale');
      scale.addEventListener('click', async () => {
        const n = Number.parseInt(input.value, 10);
        await rowAction(scale, $('#actors-msg'), 'POST', 'api/actors/scale', { actor_id: r.a.id, host_id: r.p.host_id, count: Number.isNaN(n) ? -1 : n });
        delete input.dataset.dirty;
      });
      input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); scale.click(); } });
      const stop = confirmButton('Stop', 'Confirm stop', (btn) => {
        btn.dataset.busy = 'Stopping…';
        rowAction(btn, $('#actors-msg'), 'POST', 'api/actors/stop', { actor_id: r.a.id, host_id: r.p.host_id });
      });
      tr.dataset.actorId = r.a.id;
      tr.dataset.hostId = r.p.host_id;
      setCells(tr, [], [], [], [], { cls: 'right', content: h('div', { class: 'actions' }, input, scale, stop) });
    }, (tr, r) => {
      const input = tr.querySelector('input.scale');
      if (document.activeElement !== input && !input.dataset.dirty) input.value = r.p.instances;
      setCells(tr,
        nameCell(r.a.name, r.a.id, 'unnamed actor'),
        { cls: 'mono refcell', content: h('span', { class: 'ref', title: r.p.image_ref }, middle(r.p.image_ref) || '—') },
        chips(r.a.caps || []),
        { cls: 'nowrap', content: h('span', { title: r.p.host_id }, hostName(r.p.host_id)) },
        undefined);
    }, 'No actors running. Start one from an OCI reference or a file path above.');
  }

  // ---- providers ---------------------------------------------------------------------------

  function renderProviders(v) {
    sync($('#providers-table'), v.providers, (p) => `${p.id}/${p.link_name}@${p.host_id}`, (tr, p) => {
      const stop = confirmButton('Stop', 'Confirm stop', (btn) => {
        btn.dataset.busy = 'Stopping…';
        rowAction(btn, $('#providers-msg'), 'POST', 'api/providers/stop', {
          provider_id: p.id, link_name: p.link_name, contract_id: p.contract_id, host_id: p.host_id,
        });
      });
      tr.dataset.providerId = p.id;
      tr.dataset.hostId = p.host_id;
      setCells(tr, [], [], [], [], [], [], { cls: 'right', content: h('div', { class: 'actions' }, stop) });
    }, (tr, p) => {
      const [kind, text] = providerBadge[p.status] || ['neutral', p.status];
      const restarts = p.restarts ? h('span', { class: 'muted small' }, ` ${p.restarts} restart${p.restarts > 1 ? 's' : ''}`) : '';
      tr.dataset.status = p.status;
      setCells(tr,
        nameCell(p.name, p.id, 'unnamed provider'),
        h('span', { class: 'chip' }, p.contract_id || '—'),
        { cls: 'mono nowrap', content: p.link_name },
        { cls: 'nowrap', content: h('span', { title: p.host_id }, hostName(p.host_id)) },
        { cls: 'status-cell', content: [badge(kind, text), restarts] },
        { cls: 'mono refcell', content: h('span', { class: 'ref', title: p.image_ref }, middle(p.image_ref) || '—') },
        undefined);
    }, 'No providers running. Start one from a reference or a provider archive (.par.gz) above.');
  }

  // ---- links -------------------------------------------------------------------------------

  function renderLinks(v) {
    sync($('#links-table'), v.links, (l) => l.id, (tr, l) => {
      const del = confirmButton('Delete', 'Confirm delete', (btn) => {
        btn.dataset.busy = 'Deleting…';
        rowAction(btn, $('#links-msg'), 'DELETE', 'api/links', { actor_id: l.actor_id, contract_id: l.contract_id, link_name: l.link_name });
      });
      tr.dataset.actorId = l.actor_id;
      tr.dataset.providerId = l.provider_id;
      setCells(tr, [], [], [], [], [], [], { cls: 'right', content: h('div', { class: 'actions' }, del) });
    }, (tr, l) => {
      const values = Object.entries(l.values || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, val]) => `${k}=${val}`);
      let sig;
      if (l.status === 'rejected') sig = [badge('bad', 'rejected'), h('div', { class: 'reason' }, l.reason || 'no reason given')];
      else if (l.signed) sig = badge('ok', 'signed', 'Signed by an account key');
      else sig = badge('neutral', 'unsigned');
      tr.classList.toggle('rejected', l.status === 'rejected');
      setCells(tr,
        nameCell(actorName(l.actor_id), l.actor_id, 'actor'),
        nameCell(providerName(l.provider_id), l.provider_id, 'provider'),
        h('span', { class: 'chip' }, l.contract_id),
        { cls: 'mono', content: l.link_name },
        { cls: 'valuescell', content: chips(values, 'chip value') },
        sig,
        undefined);
    }, 'No links. Define one below the provider list: pick an actor and a provider.');
  }

  // ---- forms: selects that follow the view -------------------------------------------------

  function fillSelect(select, options, placeholder) {
    // Leave the select alone (an open list stays open) unless its choices changed.
    const sig = JSON.stringify([placeholder, options]);
    if (select.dataset.sig === sig) return;
    select.dataset.sig = sig;
    const current = select.value;
    const opts = [];
    if (placeholder !== undefined) opts.push(h('option', { value: '' }, placeholder));
    for (const o of options) opts.push(h('option', { value: o.value, dataset: o.data || {} }, o.label));
    select.replaceChildren(...opts);
    if (options.some((o) => o.value === current) || current === '') select.value = current;
  }

  function renderForms(v) {
    const hosts = v.hosts.filter((x) => !x.stale).map((x) => ({ value: x.id, label: `${x.friendly_name || 'host'} · ${short(x.id)}` }));
    for (const sel of $$('.host-select')) fillSelect(sel, hosts, 'Any host (auction)');

    // Actors and providers the lattice knows: those running, and those with claims.
    const actors = new Map();
    for (const a of v.actors) actors.set(a.id, a.name);
    for (const c of v.claims) if (c.sub?.startsWith('M') && !actors.has(c.sub)) actors.set(c.sub, c.name);
    const actorSel = $('#put-link [name=actor_id]');
    fillSelect(actorSel, Array.from(actors, ([id, name]) => ({ value: id, label: `${name || 'actor'} · ${short(id)}` })), 'Choose an actor…');

    const providers = new Map();
    for (const p of v.providers) {
      const k = `${p.id}/${p.link_name}`;
      if (!providers.has(k)) providers.set(k, { id: p.id, name: p.name, link: p.link_name, contract: p.contract_id });
    }
    for (const c of v.claims) {
      if (c.sub?.startsWith('V') && ![...providers.values()].some((p) => p.id === c.sub)) {
        providers.set(`${c.sub}/default`, { id: c.sub, name: c.name, link: 'default', contract: c.contract_id });
      }
    }
    const provSel = $('#put-link [name=provider]');
    fillSelect(provSel, Array.from(providers, ([k, p]) => ({
      value: k,
      label: `${p.name || 'provider'} · ${p.contract || '?'}${p.link !== 'default' ? ` · ${p.link}` : ''}`,
      data: { id: p.id, link: p.link, contract: p.contract || '' },
    })), 'Choose a provider…');

    // One choice only: take it, as a user would.
    if (!actorSel.value && actors.size === 1) actorSel.value = actorSel.options[1].value;
    if (!provSel.value && providers.size === 1) {
      provSel.value = provSel.options[1].value;
      prefillFromProvider();
    }
    linkHint();
  }

  // prefillFromProvider puts the chosen provider's contract (from its claims) and link name in
  // the link form.
  function prefillFromProvider() {
    const form = $('#put-link');
    const opt = form.elements.provider.selectedOptions[0];
    if (!opt || !opt.value) return;
    form.elements.contract_id.value = opt.dataset.contract || '';
    form.elements.link_name.value = opt.dataset.link || 'default';
    if (!form.elements.values.value && opt.dataset.contract === 'wasmcloud:httpserver') {
      form.elements.values.placeholder = 'ADDRESS=127.0.0.1:8080';
    }
    linkHint();
  }

  // linkHint warns when the actor's claims do not allow the contract.
  function linkHint() {
    const form = $('#put-link');
    const hint = $('#put-link-hint');
    const actor = form.elements.actor_id.value;
    const contract = form.elements.contract_id.value.trim();
    const caps = (app.view?.actors || []).find((a) => a.id === actor)?.caps
      || (claimsOf(actor)?.caps || '').split(',').filter(Boolean);
    if (actor && contract && caps && !caps.includes(contract)) {
      hint.textContent = `Note: ${actorName(actor) || short(actor)} is not signed for ${contract} (its capabilities: ${caps.join(', ') || 'none'}); calls over this link will be refused.`;
      hint.hidden = false;
    } else {
      hint.hidden = true;
    }
  }

  function wireForms() {
    $('#start-actor').addEventListener('submit', (e) => {
      e.preventDefault();
      const f = e.currentTarget;
      const count = f.elements.count.value.trim();
      submitForm(f, 'POST', 'api/actors', {
        ref: f.elements.ref.value.trim(),
        host_id: f.elements.host_id.value,
        count: count === '' ? 1 : Number(count),
      });
    });
    $('#start-provider').addEventListener('submit', (e) => {
      e.preventDefault();
      const f = e.currentTarget;
      submitForm(f, 'POST', 'api/providers', {
        ref: f.elements.ref.value.trim(),
        link_name: f.elements.link_name.value.trim(),
        host_id: f.elements.host_id.value,
      });
    });
    const link = $('#put-link');
    link.elements.provider.addEventListener('change', prefillFromProvider);
    link.elements.actor_id.addEventListener('change', linkHint);
    link.elements.contract_id.addEventListener('input', linkHint);
    link.addEventListener('submit', (e) => {
      e.preventDefault();
      const f = e.currentTarget;
      const opt = f.elements.provider.selectedOptions[0];
      submitForm(f, 'POST', 'api/links', {
        actor_id: f.elements.actor_id.value,
        provider_id: opt?.dataset.id || '',
        contract_id: f.elements.contract_id.value.trim(),
        link_name: f.elements.link_name.value.trim(),
        values: f.elements.values.value,
      });
    });
    for (const f of $$('form')) {
      f.addEventListener('input', (e) => e.target.removeAttribute?.('aria-invalid'));
    }
  }

  // ---- events ------------------------------------------------------------------------------

  function eventClass(type) {
    if (/failed|rejected/.test(type)) return 'bad';
    if (type.startsWith('host_')) return 'host';
    if (type.startsWith('actor_')) return 'actor';
    if (type.startsWith('provider_')) return 'provider';
    if (type.startsWith('health_')) return 'health';
    if (type.startsWith('linkdef_')) return 'link';
    return 'other';
  }

  function describe(ev) {
    const d = ev.data || {};
    const on = ` on ${hostName(ev.source)}`;
    const actor = (id, claims) => claims?.name || actorName(id) || short(id);
    const prov = (id, claims) => claims?.name || providerName(id) || short(id);
    switch (ev.type) {
      case 'host_started': return `${d.friendly_name || short(ev.source)} joined the lattice`;
      case 'host_stopped': return `${hostName(ev.source)} left the lattice`;
      case 'actor_started': return `${actor(d.public_key, d.claims)} started${on}`;
      case 'actor_start_failed': return `${d.actor_ref}${on}: ${d.error}`;
      case 'actor_stopped': return `${actor(d.public_key)} instance stopped${on}`;
      case 'actor_updated': return `${actor(d.public_key)} updated to ${d.image_ref || `revision ${d.revision}`}${on}`;
      case 'provider_started': return `${prov(d.public_key, d.claims)} (${d.contract_id}, ${d.link_name}) started${on}`;
      case 'provider_start_failed': return `${d.provider_ref}${on}: ${d.error}`;
      case 'provider_stopped': return `${prov(d.public_key)} (${d.link_name}) stopped${on}${d.reason ? `: ${d.reason}` : ''}`;
      case 'health_check_passed': return `${prov(d.public_key)} is healthy${on}`;
      case 'health_check_failed': return `${prov(d.public_key)} is unhealthy${on}`;
      case 'linkdef_set': return `${actor(d.actor_id)} → ${prov(d.provider_id)} (${d.contract_id}, ${d.link_name})`;
      case 'linkdef_deleted': return `link removed: ${actor(d.actor_id)} (${d.contract_id}, ${d.link_name})`;
      case 'linkdef_rejected': return `${actor(d.actor_id)} → ${prov(d.provider_id)} rejected: ${d.reason || 'no reason'}`;
      case 'refmap_set': return `${d.oci_url} → ${short(d.public_key)}`;
      case 'invocation_failed': return `${d.error || 'an invocation failed'}`;
      default: return `from ${hostName(ev.source)}`;
    }
  }

  function eventItem(ev, fresh) {
    const li = h('li', { class: `ev ev-${eventClass(ev.type)}${fresh ? ' new' : ''}`, dataset: { type: ev.type } },
      h('div', { class: 'ev-head' },
        h('span', { class: 'ev-type' }, ev.type.replaceAll('_', ' ')),
        h('time', { datetime: ev.time, title: ev.time }, clock(ev.time))),
      h('div', { class: 'ev-text' }, describe(ev)));
    return li;
  }

  function renderEvents() {
    const list = $('#events');
    list.replaceChildren(...app.events.slice().reverse().map((e) => eventItem(e, false)));
    updateEventCount();
  }

  function addEvent(ev) {
    app.events.push(ev);
    const list = $('#events');
    const li = eventItem(ev, true);
    list.prepend(li);
    setTimeout(() => li.classList.remove('new'), 1600);
    while (app.events.length > MAX_EVENTS) {
      app.events.shift();
      list.lastElementChild?.remove();
    }
    updateEventCount();
  }

  function updateEventCount() {
    $('#events-count').textContent = String(app.events.length);
    $('#events-empty').hidden = app.events.length > 0;
  }

  // ---- the whole view ----------------------------------------------------------------------

  function render() {
    const v = app.view;
    if (!v) return;
    // Rows show names looked up elsewhere in the view: a change of names refills them.
    app.namesSig = JSON.stringify([
      v.hosts.map((x) => [x.id, x.friendly_name]),
      v.actors.map((a) => [a.id, a.name]),
      v.providers.map((p) => [p.id, p.name]),
      v.claims.map((c) => [c.sub, c.name]),
    ]);
    $('#lattice-name').textContent = v.lattice;
    document.title = `Trellis · ${v.lattice}`;
    const instances = v.actors.reduce((n, a) => n + a.instances, 0);
    $('#stat-hosts').textContent = v.hosts.length;
    $('#stat-actors').textContent = v.actors.length;
    $('#stat-actors').title = `${instances} instances`;
    $('#stat-providers').textContent = v.providers.length;
    $('#stat-links').textContent = v.links.length;
    $('#hosts-count').textContent = v.hosts.length;
    $('#actors-count').textContent = v.actors.length;
    $('#providers-count').textContent = v.providers.length;
    $('#links-count').textContent = v.links.length;
    renderHosts(v);
    renderActors(v);
    renderProviders(v);
    renderLinks(v);
    renderForms(v);
    renderStatus();
    app.rendered = true;
  }

  function renderStatus() {
    const el = $('#status');
    const text = $('#status-text');
    const banner = $('#banner');
    let cls = 'status-connecting', label = 'Connecting…';
    if (app.wsState === 'open') {
      if (app.view && !app.view.connected) { cls = 'status-offline'; label = 'NATS disconnected'; }
      else if (app.view && !app.view.ready) { cls = 'status-connecting'; label = 'Loading lattice…'; }
      else { cls = 'status-live'; label = 'Live'; }
    } else if (app.wsState === 'closed') {
      const secs = Math.max(0, Math.ceil((app.retryAt - Date.now()) / 1000));
      cls = 'status-offline';
      label = secs > 0 ? `Offline · retrying in ${secs}s` : 'Offline · retrying';
    }
    el.className = `status ${cls}`;
    text.textContent = label;

    let problem = '';
    if (app.wsState === 'closed') problem = 'Lost the connection to the dashboard; the page reconnects on its own. What you see may be out of date.';
    else if (app.view && !app.view.connected) problem = `The dashboard is not connected to the lattice's NATS server.${app.view.refresh_error ? ` Last error: ${app.view.refresh_error}` : ''}`;
    banner.textContent = problem;
    banner.hidden = !problem;
  }

  // tick advances uptimes and silences between views.
  function tick() {
    if (app.view) {
      const dt = (Date.now() - app.viewAt) / 1000;
      for (const el of $$('[data-uptime]')) {
        if (!el.dataset.stale) el.textContent = duration(Number(el.dataset.uptime) + dt);
      }
      for (const el of $$('[data-silent]')) el.textContent = `stale · silent ${duration(Number(el.dataset.silent) + dt)}`;
    }
    if (app.wsState === 'closed') renderStatus();
  }

  // ---- websocket ---------------------------------------------------------------------------

  function connect() {
    const url = new URL('ws', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    app.wsState = 'connecting';
    renderStatus();
    const ws = new WebSocket(url);
    app.ws = ws;
    ws.addEventListener('open', () => {
      app.wsState = 'open';
      app.retryMs = 500;
      renderStatus();
    });
    ws.addEventListener('message', (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch (_) { return; }
      if (msg.type === 'view' && msg.view) {
        app.view = msg.view;
        app.viewAt = Date.now();
        render();
      } else if (msg.type === 'events') {
        app.events = (msg.events || []).slice(-MAX_EVENTS);
        renderEvents();
      } else if (msg.type === 'event' && msg.event) {
        addEvent(msg.event);
      }
    });
    ws.addEventListener('close', () => {
      if (app.ws !== ws) return;
      app.wsState = 'closed';
      app.retryAt = Date.now() + app.retryMs;
      setTimeout(connect, app.retryMs);
      app.retryMs = Math.min(app.retryMs * 2, 8000);
      renderStatus();
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    wireForms();
    connect();
    setInterval(tick, 1000);
  });
})();
