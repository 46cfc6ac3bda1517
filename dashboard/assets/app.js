// Trellis lattice dashboard: renders the view the server streams over the websocket and sends
// commands to the JSON API. Plain JavaScript modules, no build step: kit.js holds the shared
// helpers, apps.js the Applications section, this file the rest of the page.
import {
  app, $, $$, h, short, middle, duration, clock, claimsOf, hostName, actorName, providerName,
  nameCell, chips, badge, submitForm, rowAction, confirmButton, sync, setCells, api,
} from './kit.js';
import { renderApps, wireApps, tickApps, describeAppStatus } from './apps.js';

const MAX_EVENTS = 200;

const providerBadge = {
  healthy: ['ok', 'healthy'],
  unhealthy: ['bad', 'unhealthy'],
  awaiting: ['neutral', 'awaiting health'],
  restarting: ['warn', 'restarting'],
  starting: ['info', 'starting'],
  stopping: ['neutral', 'stopping'],
};

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
    const scale = h('button', { type: 'button', class: 'btn small scale-btn', 'data-busy': 'Scaling…' }, 'Scale');
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
    const live = h('span', { class: 'muted live', title: 'Live wasm instances on this host: in a call, idle, and the most that may exist (they come and go with the calls; the count is in the box)' });
    const actions = h('div', { class: 'actions' }, live, input, scale, h('button', {
      type: 'button', class: 'btn small update-btn', title: 'Replace the actor with another build of it (same key) on every host running it',
      onclick: () => openUpdate(tr),
    }, 'Update'), stop);
    tr.dataset.actorId = r.a.id;
    tr.dataset.hostId = r.p.host_id;
    setCells(tr, [], [], [], [], { cls: 'right', content: [actions, updateForm(tr, r.a.id, actions)] });
  }, (tr, r) => {
    tr.dataset.imageRef = r.p.image_ref;
    const input = tr.querySelector('input.scale');
    if (document.activeElement !== input && !input.dataset.dirty) input.value = r.p.instances;
    tr.querySelector('.live').textContent = r.p.max_instances
      ? `${r.p.in_use} in use · ${r.p.idle} idle · max ${r.p.max_instances}${r.p.min_instances ? ` · min ${r.p.min_instances}` : ''}` : '';
    setCells(tr,
      nameCell(r.a.name, r.a.id, 'unnamed actor'),
      { cls: 'mono refcell', content: h('span', { class: 'ref', title: r.p.image_ref }, middle(r.p.image_ref) || '—') },
      chips(r.a.caps || []),
      { cls: 'nowrap', content: h('span', { title: r.p.host_id }, hostName(r.p.host_id)) },
      undefined);
  }, 'No actors running. Start one from an OCI reference or a file path above.');
}

// updateForm asks for the new reference of an actor in its row, in place of the row's buttons,
// and sends the update (upd) to every host running the actor; the outcome shows above the table.
function updateForm(tr, actorID, actions) {
  const ref = h('input', {
    name: 'ref', class: 'update-ref', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'new reference of the same actor', 'aria-label': 'New image reference',
  });
  const submit = h('button', { type: 'submit', class: 'btn small primary', 'data-busy': 'Updating…' }, 'Update');
  const form = h('form', { class: 'actions update-form', novalidate: true, hidden: true }, ref, submit);
  const close = () => {
    form.hidden = true;
    actions.hidden = false;
    ref.removeAttribute('aria-invalid');
  };
  form.append(h('button', { type: 'button', class: 'btn small', onclick: close }, 'Cancel'));
  ref.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
  ref.addEventListener('input', () => ref.removeAttribute('aria-invalid'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = await rowAction(submit, $('#actors-msg'), 'POST', 'api/actors/update', { actor_id: actorID, ref: ref.value.trim() });
    if (data) close();
    else ref.setAttribute('aria-invalid', 'true');
  });
  return form;
}

function openUpdate(tr) {
  const form = tr.querySelector('.update-form');
  const ref = form.elements.ref;
  tr.querySelector('.actions:not(.update-form)').hidden = true;
  form.hidden = false;
  ref.value = tr.dataset.imageRef || '';
  ref.focus();
  ref.select();
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
  if (type.startsWith('app_')) return 'app';
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
    case 'actor_update_failed': return `${actor(d.public_key)} not updated${d.image_ref ? ` to ${d.image_ref}` : ''}${on}: ${d.reason || 'no reason given'}`;
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
    case 'app_status': return describeAppStatus(d);
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
    v.applications.reconciler,
  ]);
  $('#lattice-name').textContent = v.lattice;
  document.title = `Trellis · ${v.lattice}`;
  const instances = v.actors.reduce((n, a) => n + a.instances, 0);
  $('#stat-hosts').textContent = v.hosts.length;
  $('#stat-actors').textContent = v.actors.length;
  $('#stat-actors').title = `${instances} instances`;
  $('#stat-providers').textContent = v.providers.length;
  $('#stat-links').textContent = v.links.length;
  $('#stat-apps').textContent = v.applications.apps.length;
  $('#hosts-count').textContent = v.hosts.length;
  $('#actors-count').textContent = v.actors.length;
  $('#providers-count').textContent = v.providers.length;
  $('#links-count').textContent = v.links.length;
  renderHosts(v);
  renderApps(v);
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
    tickApps();
  }
  if (app.wsState === 'closed') renderStatus();
}

// ---- websocket ---------------------------------------------------------------------------

function connect() {
  if (app.ws && app.ws.readyState <= WebSocket.OPEN) return;
  const url = new URL('ws', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  app.wsState = 'connecting';
  renderStatus();
  const ws = new WebSocket(url);
  app.ws = ws;
  let opened = false;
  ws.addEventListener('open', () => {
    opened = true;
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
  ws.addEventListener('close', async () => {
    if (app.ws !== ws) return;
    // A refused upgrade tells the page nothing; the session endpoint says whether the token is
    // what is missing (a session that expired, a token that changed).
    if (!opened && !(await session())) return;
    if (app.ws !== ws) return;
    app.wsState = 'closed';
    app.retryAt = Date.now() + app.retryMs;
    setTimeout(connect, app.retryMs);
    app.retryMs = Math.min(app.retryMs * 2, 8000);
    renderStatus();
  });
}

// ---- login --------------------------------------------------------------------------------

// session asks whether the dashboard wants a token and whether the browser has its session; it
// shows the login form and answers false when one is needed, else answers true.
async function session() {
  let s;
  try {
    const res = await fetch('api/session', { headers: { Accept: 'application/json' } });
    s = await res.json();
  } catch (_) {
    return true; // the dashboard is unreachable: the websocket's retries handle that
  }
  $('#logout').hidden = !s.token_required;
  if (s.token_required && !s.authenticated) {
    showLogin();
    return false;
  }
  return true;
}

function showLogin() {
  if (app.ws) {
    const ws = app.ws;
    app.ws = null;
    ws.close();
  }
  app.wsState = 'connecting';
  renderStatus();
  $('#login').hidden = false;
  $('#login-form').elements.token.focus();
}

async function logIn(token) {
  const form = $('#login-form');
  const data = await submitForm(form, 'POST', 'api/login', { token });
  if (!data) return;
  form.elements.token.value = '';
  $('#login').hidden = true;
  $('#logout').hidden = false;
  connect();
}

function wireLogin() {
  app.onTokenRequired = showLogin;
  $('#login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    logIn(e.currentTarget.elements.token.value.trim());
  });
  $('#logout').addEventListener('click', async () => {
    try { await api('POST', 'api/logout', {}); } catch (_) { /* shown by the login form */ }
    showLogin();
  });
}

// start logs in with the token of a link like http://127.0.0.1:4000/#token=…, which `trellis up`
// prints (a fragment never reaches the server or a Referer), then connects.
async function start() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get('token');
  if (token) {
    history.replaceState(null, '', window.location.pathname + window.location.search);
    if (await session()) connect();
    else await logIn(token);
    return;
  }
  if (await session()) connect();
}

document.addEventListener('DOMContentLoaded', () => {
  wireForms();
  wireApps();
  wireLogin();
  start();
  window.addEventListener('hashchange', () => { if (window.location.hash.includes('token=')) start(); });
  setInterval(tick, 1000);
});
