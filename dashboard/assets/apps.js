// The Applications section: the lattice's declarative apps (wadm manifests) as the apps store
// and the reconciler report them, with a version to deploy (an older one rolls back), Undeploy,
// and a form that stores and deploys a manifest.
import {
  $, $$, h, short, duration, hostName, badge, hideMsg, rowAction, confirmButton, submitForm, sync, setCells,
} from './kit.js';

// stateBadge is how each state shows, like the providers' health.
const stateBadge = {
  deployed: ['ok', 'deployed'],
  reconciling: ['info', 'reconciling'],
  failed: ['bad', 'failed'],
  undeployed: ['neutral', 'undeployed'],
  pending: ['warn', 'pending'],
};

const appPath = (name, action) => `api/apps/${encodeURIComponent(name)}/${action}`;

// since is when the app's state began, as ms since the epoch (0 when not known): the status's
// since, or for a pending app when its version was deployed.
function since(x) {
  let at = x.status?.since;
  if (x.state === 'pending') at = x.versions.find((ver) => ver.version === x.deployed)?.deployed_at;
  const t = at ? Date.parse(at) : NaN;
  return Number.isNaN(t) || t < Date.UTC(2000, 0, 1) ? 0 : t;
}
const ago = (t) => `${duration((Date.now() - t) / 1000)} ago`;

export function describeAppStatus(d) {
  const version = d.version ? ` (version ${d.version})` : '';
  return `${d.name}: ${d.state}${version}${d.message ? ` · ${d.message}` : ''}`;
}

// ---- rows --------------------------------------------------------------------------------

function buildRow(tr, x) {
  const sel = h('select', { name: 'version', class: 'version-select', 'aria-label': `Version of ${x.name} to deploy` });
  sel.addEventListener('change', () => { sel.dataset.dirty = '1'; });
  const deploy = h('button', { type: 'button', class: 'btn small primary deploy-btn', 'data-busy': 'Deploying…' }, 'Deploy');
  deploy.addEventListener('click', async () => {
    if (await rowAction(deploy, $('#apps-msg'), 'POST', appPath(x.name, 'deploy'), { version: sel.value })) delete sel.dataset.dirty;
  });
  const undeploy = confirmButton('Undeploy', 'Confirm undeploy', (btn) => {
    btn.dataset.busy = 'Undeploying…';
    rowAction(btn, $('#apps-msg'), 'POST', appPath(x.name, 'undeploy'), {});
  });
  undeploy.classList.add('undeploy-btn');
  tr.dataset.app = x.name;
  setCells(tr, [], [], [], [], [], { cls: 'right', content: h('div', { class: 'actions' }, sel, deploy, undeploy) });
}

// fillVersions offers every version, newest first, and selects the deployed one (else the
// latest) unless the user picked another.
function fillVersions(sel, x) {
  const opts = x.versions.slice().reverse().map((ver) => {
    let note = '';
    if (ver.version === x.deployed) note = ' · deployed';
    else if (ver.version === x.latest) note = ' · latest';
    return [ver.version, ver.version + note];
  });
  const sig = JSON.stringify(opts);
  if (sel.dataset.sig !== sig) {
    sel.dataset.sig = sig;
    const current = sel.value;
    sel.replaceChildren(...opts.map(([value, label]) => h('option', { value }, label)));
    if (sel.dataset.dirty && opts.some(([value]) => value === current)) sel.value = current;
    else delete sel.dataset.dirty;
  }
  if (!sel.dataset.dirty) sel.value = x.deployed || x.latest;
  sel.disabled = opts.length === 0;
}

function pendingMessage(x, reconciler) {
  if (!reconciler) return 'no reconciler is running: nothing acts on this app until a host takes the reconciler lease';
  if (x.deployed) return `waiting for the reconciler to act on version ${x.deployed}`;
  return 'waiting for the reconciler to remove what the app started';
}

function components(st) {
  const list = st?.components || [];
  if (!list.length) return h('span', { class: 'none' }, '—');
  return h('ul', { class: 'components' }, list.map((c) => h('li', { class: c.actual === c.desired ? 'comp' : 'comp short' },
    h('span', { class: 'comp-name', title: `${c.type} ${c.image}` }, c.name),
    h('span', { class: 'comp-count', title: `${c.actual} running of ${c.desired} wanted` }, `${c.actual}/${c.desired}`),
    c.message ? h('div', { class: 'comp-msg' }, c.message) : null)));
}

function fillRow(tr, x, reconciler) {
  fillVersions(tr.querySelector('select.version-select'), x);
  tr.querySelector('.undeploy-btn').hidden = !x.deployed;
  tr.dataset.state = x.state;
  const [kind, text] = stateBadge[x.state] || ['neutral', x.state];
  let message = x.status?.message || '';
  if (x.state === 'pending') message = pendingMessage(x, reconciler);
  const t = since(x);
  let version = h('span', { class: 'none' }, 'not deployed');
  if (x.deployed) version = h('span', { class: 'mono deployed-version' }, x.deployed);
  const latest = x.latest && x.latest !== x.deployed && h('div', { class: 'muted small' }, `latest ${x.latest}`);
  const some = (...xs) => xs.filter(Boolean);
  setCells(tr,
    some(
      h('div', { class: 'name' }, x.name),
      x.description && h('div', { class: 'muted small' }, x.description),
      x.owner && h('div', { class: 'small' }, h('span', { class: 'chip', title: 'Who put the latest version' }, `managed by ${x.owner}`)),
    ),
    some(version, latest),
    { cls: 'status-cell', content: some(badge(kind, text), message && h('div', { class: `app-msg ${kind}` }, message)) },
    { cls: 'compcell', content: components(x.status) },
    { cls: 'nowrap muted', content: t ? h('span', { title: new Date(t).toISOString(), dataset: { since: String(t) } }, ago(t)) : '—' },
    undefined);
}

// ---- the section -------------------------------------------------------------------------

function renderReconciler(a) {
  const el = $('#apps-reconciler');
  let kind = 'info';
  let parts;
  if (!a.enabled) {
    kind = 'warn';
    parts = ['Applications are not available: this dashboard has no JetStream connection.'];
  } else if (!a.reconciler) {
    kind = 'warn';
    parts = [h('strong', {}, 'No reconciler is running.'), ' Deployments are stored, but nothing acts on them until a host takes the reconciler lease.'];
  } else {
    parts = ['Reconciler: ', h('strong', { title: a.reconciler }, hostName(a.reconciler)), h('span', { class: 'muted' }, ` · ${short(a.reconciler)}`)];
  }
  el.className = `apps-reconciler ${kind}`;
  el.dataset.reconciler = a.reconciler || '';
  el.replaceChildren(...parts);
  const err = $('#apps-error');
  err.textContent = a.error ? `The apps store cannot be read: ${a.error}` : '';
  err.hidden = !a.error;
}

export function renderApps(v) {
  const a = v.applications;
  $('#apps-count').textContent = a.apps.length;
  renderReconciler(a);
  $('#put-app').hidden = !a.enabled;
  let empty = 'No applications yet. Deploy a manifest (wadm\'s OAM format, YAML or JSON) with the form above.';
  if (!a.enabled) empty = 'Applications need JetStream.';
  else if (!a.synced) empty = 'Reading the apps store…';
  sync($('#apps-table'), a.apps, (x) => x.name, buildRow, (tr, x) => fillRow(tr, x, a.reconciler), empty);
}

// tickApps advances the "since" times.
export function tickApps() {
  for (const el of $$('[data-since]')) el.textContent = ago(Number(el.dataset.since));
}

export function wireApps() {
  const form = $('#put-app');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = form.elements.manifest.value;
    const type = /^\s*[{[]/.test(text) ? 'application/json' : 'application/yaml';
    hideMsg($('#apps-msg'));
    submitForm(form, 'POST', 'api/apps', text, type);
  });
}
