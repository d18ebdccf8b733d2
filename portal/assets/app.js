// jit portal: the page. Plain JavaScript, no framework, no build step, no third-party code.
// Every change goes to the portal's /api/ routes (which call jitd as you) with the CSRF token;
// jitd's events arrive as Server-Sent Events and refresh what is shown.
'use strict';

(() => {
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const main = document.getElementById('main');
  const dialog = document.getElementById('dialog');

  const STATUS = {
    pending: 'Pending', scheduled: 'Scheduled', granting: 'Granting', granted: 'Granted',
    revoking: 'Revoking', expired: 'Expired', revoked: 'Revoked', rejected: 'Rejected',
    failed: 'Failed', canceled: 'Canceled',
  };
  const CLOSED = new Set(['expired', 'revoked', 'rejected', 'failed', 'canceled']);
  const DURATIONS = [900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 604800];

  const state = {
    status: null, catalog: [], open: [], closed: [], review: [],
    tab: 'open', typeFilter: '', shownGranted: new Set(), loaded: false,
  };

  // ---------- small helpers ----------

  /** Builds an element: el('a', {href: '#'}, 'text', child). Text is never parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (v === true) node.setAttribute(k, '');
      else node.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || `the portal answered ${status}`);
      this.status = status; this.name_ = e.name || ''; this.code = e.code;
    }
  }

  async function api(method, path, body) {
    const init = { method, headers: { 'Accept': 'application/json' }, credentials: 'same-origin' };
    if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRF-Token'] = CSRF;
      init.body = JSON.stringify(body || {});
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      portalGone();
      throw new ApiError(0, { error: { message: 'the portal is not answering: is `jit portal` still running?' } });
    }
    let data = null;
    const text = await res.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: { message: text } }; }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  function plural(n, word) { return `${n} ${word}${n === 1 ? '' : 's'}`; }

  function span(secs) {
    secs = Math.max(0, Math.round(secs));
    if (secs < 60) return `${secs}s`;
    const m = Math.round(secs / 60);
    if (m < 60) return `${m}m`;
    const h = Math.floor(m / 60), mm = m % 60;
    if (h < 48) return mm ? `${h}h ${mm}m` : `${h}h`;
    const d = Math.floor(h / 24), hh = h % 24;
    return hh ? `${d}d ${hh}h` : `${d}d`;
  }

  function duration(secs) {
    if (secs % 86400 === 0) return plural(secs / 86400, 'day');
    if (secs % 3600 === 0) return plural(secs / 3600, 'hour');
    if (secs % 60 === 0) return `${secs / 60} min`;
    return span(secs);
  }

  function relative(iso) {
    const diff = (Date.parse(iso) - Date.now()) / 1000;
    if (Math.abs(diff) < 5) return 'just now';
    return diff > 0 ? `in ${span(diff)}` : `${span(-diff)} ago`;
  }

  function absolute(iso) {
    return new Date(iso).toLocaleString(undefined, {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  /** A time shown relative ("in 42m") with the absolute local time under it. */
  function when(iso, prefix) {
    if (!iso) return '—';
    return el('time', { datetime: iso, title: absolute(iso) },
      el('span', { class: 'rel', dataset: { rel: iso, prefix: prefix || '' } }, (prefix || '') + relative(iso)),
      el('span', { class: 'abs' }, absolute(iso)));
  }

  setInterval(() => {
    for (const n of document.querySelectorAll('[data-rel]')) {
      n.textContent = (n.dataset.prefix || '') + relative(n.dataset.rel);
    }
  }, 15000);

  function badge(status) {
    return el('span', { class: `badge st-${status}` }, STATUS[status] || status);
  }

  function toast(text) {
    const t = el('div', { class: 'toast' }, text);
    document.getElementById('toasts').append(t);
    setTimeout(() => t.remove(), 6000);
  }

  function copyButton(getText, label) {
    const b = el('button', { type: 'button', class: 'btn small', onclick: async () => {
      try {
        await navigator.clipboard.writeText(getText());
        b.textContent = 'Copied';
      } catch (e) {
        b.textContent = 'Select and copy';
      }
      setTimeout(() => { b.textContent = label || 'Copy'; }, 2000);
    } }, label || 'Copy');
    return b;
  }

  function codebox(text, extraClass) {
    return el('div', { class: `codebox ${extraClass || ''}` }, el('code', {}, text), copyButton(() => text));
  }

  function me() { return state.status ? state.status.daemon.caller.user : ''; }

  function what(r) {
    if (r.bundle) return { title: `Bundle ${r.bundle}`, sub: r.entries.map((e) => `${e.integration}/${e.resource_type}`).join(', ') };
    const e = r.entries[0];
    return { title: `${e.integration} / ${e.resource_type}`, sub: '' };
  }

  function resourcesOf(r) { return r.entries.flatMap((e) => e.resources); }
  function permissionsOf(r) { return [...new Set(r.entries.flatMap((e) => e.permissions))]; }

  function chipList(items, max) {
    const shown = items.slice(0, max || 6);
    const more = items.length - shown.length;
    return el('div', { class: 'chips' }, shown.map((i) => el('span', { class: 'chip' }, i)),
      more > 0 ? el('span', { class: 'chip muted' }, `+${more} more`) : null);
  }

  // ---------- data ----------

  async function loadStatus() { state.status = await api('GET', '/api/status'); renderWho(); }
  async function loadCatalog() { state.catalog = await api('GET', '/api/catalog'); }

  async function loadLists() {
    const type = state.typeFilter ? `&resource_type=${encodeURIComponent(state.typeFilter)}` : '';
    const [open, closed, review] = await Promise.all([
      api('GET', `/api/requests?closed=false${type}`),
      api('GET', `/api/requests?closed=true${type}`),
      api('GET', '/api/requests?scope=review'),
    ]);
    Object.assign(state, { open, closed, review, loaded: true });
    const count = document.getElementById('approvals-count');
    count.textContent = String(review.length);
    count.hidden = review.length === 0;
    count.setAttribute('aria-label', `${plural(review.length, 'request')} waiting for you`);
  }

  function renderWho() {
    const who = document.getElementById('whoami');
    const c = state.status.daemon.caller;
    who.replaceChildren('Signed in as ', el('strong', {}, c.user), c.admin ? ' (admin)' : '');
  }

  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try { await loadLists(); render(); } catch (e) { /* shown by the banner */ }
    }, 120);
  }

  // ---------- routing ----------

  function route() {
    const parts = (location.hash || '#/requests').slice(2).split('/');
    return { page: parts[0] || 'requests', arg: parts[1] };
  }

  function setNav(page) {
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  let lastPage = null;
  function render() {
    const { page, arg } = route();
    setNav(page);
    const keepForm = page === 'new' && lastPage === 'new';
    if (keepForm) return; // the form keeps what was typed; it refreshes its own parts
    const pages = { requests: pageRequests, access: pageAccess, approvals: pageApprovals, new: pageNew };
    (pages[page] || pageRequests)(arg);
    if (lastPage !== page) {
      main.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
    lastPage = page;
  }

  window.addEventListener('hashchange', () => {
    const { page, arg } = route();
    if (page === 'requests' && arg && /^\d+$/.test(arg)) {
      if (lastPage !== 'requests') render();
      openDetails(Number(arg));
      return;
    }
    render();
  });

  // ---------- My Requests ----------

  function pageRequests(arg) {
    if (arg === 'closed') state.tab = 'closed';
    const types = new Set(state.catalog.flatMap((c) => c.resource_types.map((t) => t.name)
      .concat(c.bundles.flatMap((b) => b.entries.map((e) => e.resource_type)))));
    [...state.open, ...state.closed].forEach((r) => r.entries.forEach((e) => types.add(e.resource_type)));
    if (state.typeFilter) types.add(state.typeFilter);

    const tab = (id, label, n) => el('button', {
      class: 'tab', role: 'tab', id: `tab-${id}`, 'aria-selected': String(state.tab === id),
      'aria-controls': 'requests-panel', tabindex: state.tab === id ? '0' : '-1',
      onclick: () => { state.tab = id; render(); document.getElementById(`tab-${id}`).focus(); },
      onkeydown: (ev) => {
        if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
          state.tab = state.tab === 'open' ? 'closed' : 'open'; render();
          document.getElementById(`tab-${state.tab}`).focus();
        }
      },
    }, label, el('span', { class: 'n' }, String(n)));

    const filter = el('label', { class: 'filter' }, 'Resource type',
      el('select', { id: 'type-filter', onchange: async (ev) => {
        state.typeFilter = ev.target.value; await loadLists(); render();
      } }, el('option', { value: '' }, 'All'),
      [...types].sort().map((t) => el('option', { value: t }, t))));
    filter.querySelector('select').value = state.typeFilter;

    const list = state.tab === 'open' ? state.open : state.closed;
    let body;
    if (!state.loaded) body = el('div', { class: 'card empty' }, 'Loading…');
    else if (state.tab === 'open') {
      const granted = list.filter((r) => ['granted', 'granting', 'revoking'].includes(r.status));
      const pending = list.filter((r) => !['granted', 'granting', 'revoking'].includes(r.status));
      body = el('div', {},
        el('h2', { class: 'section-title' }, 'Granted access'),
        requestTable(granted, 'No granted access right now.'),
        el('h2', { class: 'section-title' }, 'Pending approval'),
        requestTable(pending, 'Nothing is waiting for approval.'));
    } else {
      body = requestTable(list, state.typeFilter ? `No closed requests for ${state.typeFilter}.` : 'No closed requests yet.');
    }

    main.replaceChildren(
      el('div', { class: 'page-head' },
        el('div', {}, el('h1', {}, 'My Requests'),
          el('p', { class: 'muted' }, 'Your access requests, updated live. Click a request for its details.')),
        el('a', { class: 'btn primary', href: '#/new' }, 'New Request')),
      el('div', { class: 'toolbar' },
        el('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Requests' },
          tab('open', 'Open Requests', state.open.length), tab('closed', 'Closed Requests', state.closed.length)),
        filter),
      el('div', { id: 'requests-panel', role: 'tabpanel', 'aria-labelledby': `tab-${state.tab}` }, body));
  }

  function requestTable(list, emptyText) {
    if (!list.length) return el('div', { class: 'card empty' }, emptyText);
    const rows = list.map((r) => {
      const w = what(r);
      const time = r.status === 'granted' || r.status === 'revoking' ? when(r.expires_at, 'ends ')
        : r.status === 'pending' ? when(r.pending_until, 'times out ')
          : r.status === 'scheduled' ? when(r.start_at, 'starts ')
            : r.ended_at ? when(r.ended_at) : when(r.created_at);
      return el('tr', { class: 'row', dataset: { id: r.id }, onclick: (ev) => {
        if (ev.target.closest('button, a, select, input')) return;
        location.hash = `#/requests/${r.id}`;
      } },
      el('td', { 'data-label': 'Request' }, el('a', { class: 'rid', href: `#/requests/${r.id}`, 'aria-label': `Request ${r.id} details` }, `#${r.id}`)),
      el('td', { class: 'what', 'data-label': 'Access to' }, el('div', {}, el('strong', {}, w.title), w.sub ? el('span', { class: 'muted small' }, w.sub) : null,
        r.break_glass ? el('span', { class: 'tag glass' }, 'Break-glass') : null,
        r.dry_run ? el('span', { class: 'tag dry' }, 'Dry run') : null)),
      el('td', { 'data-label': 'Resources' }, chipList(resourcesOf(r), 4)),
      el('td', { 'data-label': 'Permissions' }, chipList(permissionsOf(r))),
      el('td', { 'data-label': 'Status' }, badge(r.status)),
      el('td', { 'data-label': 'When' }, time),
      el('td', { 'data-label': '' }, rowActions(r)));
    });
    return el('div', { class: 'card table-wrap' }, el('table', { class: 'requests' },
      el('thead', {}, el('tr', {}, ['Request', 'Access to', 'Resources', 'Permissions', 'Status', 'When', ''].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows)));
  }

  function rowActions(r) {
    const a = [];
    if (r.status === 'granted') a.push(el('button', { type: 'button', class: 'btn small danger', onclick: () => confirmRevoke(r) }, 'Revoke'));
    if (r.status === 'pending' || r.status === 'scheduled') a.push(el('button', { type: 'button', class: 'btn small', onclick: () => confirmCancel(r) }, 'Cancel'));
    if (CLOSED.has(r.status)) a.push(el('button', { type: 'button', class: 'btn small', onclick: () => requestAgain(r) }, 'Request Again'));
    return el('div', { class: 'actions' }, a);
  }

  // ---------- dialogs ----------

  let dialogCleanup = null;
  /** Empties the dialog (a revealed secret leaves the page with it) and runs its cleanup. */
  function finishDialog() {
    const clean = dialogCleanup;
    dialogCleanup = null;
    dialog.replaceChildren();
    if (clean) clean();
  }
  function showDialog(content, opts) {
    if (dialog.open) { dialog.close(); finishDialog(); }
    dialog.className = (opts && opts.panel) ? 'panel' : '';
    dialog.replaceChildren(content);
    dialogCleanup = (opts && opts.onclose) || null;
    dialog.showModal();
    const first = dialog.querySelector('[autofocus]') || dialog.querySelector('input, textarea, button.primary, button');
    if (first) first.focus();
  }
  // Esc closes a dialog too; the event comes later, maybe after another dialog opened.
  dialog.addEventListener('close', () => { if (!dialog.open) finishDialog(); });
  function closeDialog() {
    if (!dialog.open) return;
    dialog.close();
    finishDialog();
  }

  function dlg(title, body, foot) {
    return el('div', { class: 'dlg' },
      el('div', { class: 'dlg-head' }, el('h2', { id: 'dialog-title' }, title),
        el('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: closeDialog }, '×')),
      body, foot ? el('div', { class: 'dlg-foot' }, foot) : null);
  }

  /** A dialog asking for a reason (or a justification) and confirming an action. */
  function askAndDo({ title, intro, label, required, button, danger, run, done }) {
    const input = el('textarea', { id: 'dlg-reason', rows: 3, maxlength: 4096, 'aria-describedby': 'dlg-error' });
    const err = el('p', { class: 'field-error', id: 'dlg-error', role: 'alert' });
    const go = el('button', { type: 'submit', class: `btn ${danger ? 'danger solid' : 'primary'}` }, button);
    const form = el('form', { onsubmit: async (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (required && !text) { err.textContent = `Write a ${label.toLowerCase()}.`; input.focus(); return; }
      go.disabled = true; err.textContent = '';
      try {
        const result = await run(text);
        closeDialog();
        if (done) done(result);
        refreshSoon();
      } catch (e) {
        err.textContent = e.message; go.disabled = false; input.focus();
      }
    } }, dlg(title, [intro, el('div', { class: 'field' },
      el('label', { for: 'dlg-reason' }, label, required ? '' : el('span', { class: 'muted' }, ' (optional)')), input, err)],
    [el('button', { type: 'button', class: 'btn', onclick: closeDialog }, 'Back'), go]));
    showDialog(form);
  }

  function confirmRevoke(r) {
    askAndDo({
      title: `Revoke request #${r.id}?`,
      intro: el('p', {}, 'The access ends now, open sessions included. You can request it again later.'),
      label: 'Reason', button: 'Revoke', danger: true,
      run: (reason) => api('POST', `/api/requests/${r.id}/revoke`, { reason }),
      done: () => toast(`Request #${r.id} is being revoked.`),
    });
  }

  function confirmCancel(r) {
    askAndDo({
      title: `Cancel request #${r.id}?`,
      intro: el('p', {}, 'The request is withdrawn; approvers no longer see it.'),
      label: 'Reason', button: 'Cancel request', danger: true,
      run: (reason) => api('POST', `/api/requests/${r.id}/cancel`, { reason }),
      done: () => toast(`Request #${r.id} was canceled.`),
    });
  }

  function requestAgain(r) {
    const w = what(r);
    askAndDo({
      title: `Request again: #${r.id}`,
      intro: el('div', { class: 'summary' }, el('strong', {}, w.title), ': ',
        resourcesOf(r).join(', '), ' — ', permissionsOf(r).join(', '), ` for ${duration(r.duration_secs)}`),
      label: 'Justification', required: true, button: 'Submit',
      run: (justification) => api('POST', `/api/requests/${r.id}/again`, { justification }),
      done: (n) => { state.tab = 'open'; submitted(n); location.hash = '#/requests'; },
    });
  }

  function confirmReset(r) {
    const others = r.sessions.filter((s) => s.credentials !== 'none');
    const intro = [el('p', {}, 'New credentials replace the current ones, which stop working at once. ',
      'Then Connect works again, and Access Details shows the new secret once.')];
    if (r.bundle) {
      intro.unshift(el('div', { class: 'warn', role: 'note' }, el('strong', {}, 'This resets the whole bundle. '),
        `Request #${r.id} was granted with bundle ${r.bundle}: the credentials of every session change (`,
        others.map((s) => s.integration).join(', '), ').'));
    }
    askAndDo({
      title: 'Reset Credentials?', intro, label: 'Reason', button: 'Reset Credentials', danger: true,
      run: (reason) => api('POST', `/api/requests/${r.id}/reset`, { reason }),
      done: () => toast(`New credentials for request #${r.id}: Access Details shows them once.`),
    });
  }

  // ---------- request details ----------

  async function openDetails(id) {
    let r;
    try { r = await api('GET', `/api/requests/${id}`); } catch (e) { toast(e.message); return; }
    const back = () => { if (location.hash === `#/requests/${id}`) history.replaceState(null, '', '#/requests'); };
    const approvers = r.approval.mode === 'auto'
      ? (r.break_glass ? `Break-glass: granted at once; told ${r.approval.approvers.join(', ')}` : 'Approved automatically by the access flow')
      : `${r.approval.approvers.join(', ')} (${r.approval.approvals.length} of ${r.approval.required} approvals)`;
    const decision = (d, verb) => el('li', {}, el('strong', {}, d.by), ` ${verb}`, d.reason ? `: “${d.reason}”` : '', when(d.at));
    const decisions = r.approval.approvals.map((d) => decision(d, 'approved'));
    if (r.approval.rejection) decisions.push(decision(r.approval.rejection, 'rejected'));
    const entries = el('table', {}, el('thead', {}, el('tr', {}, ['Integration', 'Resource type', 'Resources', 'Permissions'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, r.entries.map((e) => el('tr', {},
        el('td', {}, e.integration),
        el('td', {}, el('button', { type: 'button', class: 'btn small', title: `Show only ${e.resource_type} requests`, onclick: async () => {
          state.typeFilter = e.resource_type; closeDialog(); location.hash = '#/requests';
          await loadLists(); render();
        } }, e.resource_type)),
        el('td', {}, chipList(e.resources, 30)), el('td', {}, chipList(e.permissions))))));
    const sessions = r.sessions.length ? r.sessions.map((s) => el('div', { class: 'option' },
      el('h3', {}, s.integration, ' ', el('span', { class: 'muted small' }, s.kind),
        s.rotated ? el('span', { class: 'tag rotated' }, ' Credentials rotated') : null,
        s.dry_run ? el('span', { class: 'tag dry' }, ' Dry run') : null),
      el('dl', { class: 'facts' },
        s.principal ? [el('dt', {}, 'Log in as'), el('dd', { class: 'mono' }, s.principal)] : null,
        el('dt', {}, 'Credentials'), el('dd', {}, { none: 'none handed out', unrevealed: 'not shown yet (shown once in Access Details)', revealed: 'shown once already' }[s.credentials]),
        el('dt', {}, 'Connect'), el('dd', {}, s.connect.length ? s.connect.map(connectLabel).join(', ') : 'by hand, with the credentials')),
      s.message ? adminMessage(s.message) : null)) : [el('p', { class: 'muted' }, r.status === 'pending' ? 'Access details appear once the request is granted.' : 'No access was provisioned.')];

    const actions = [];
    if (r.requester === me()) {
      if (r.status === 'granted') {
        actions.push(el('a', { class: 'btn primary', href: '#/access', onclick: closeDialog }, 'Use Access'));
        if (r.sessions.some((s) => s.credentials !== 'none')) actions.push(el('button', { type: 'button', class: 'btn', onclick: () => confirmReset(r) }, 'Reset Credentials'));
        actions.push(el('button', { type: 'button', class: 'btn danger', onclick: () => confirmRevoke(r) }, 'Revoke'));
      }
      if (r.status === 'pending' || r.status === 'scheduled') actions.push(el('button', { type: 'button', class: 'btn danger', onclick: () => confirmCancel(r) }, 'Cancel'));
      if (CLOSED.has(r.status)) actions.push(el('button', { type: 'button', class: 'btn primary', onclick: () => requestAgain(r) }, 'Request Again'));
    }

    const body = [
      el('div', { class: 'actions' }, badge(r.status), r.break_glass ? el('span', { class: 'tag glass' }, 'Break-glass') : null, r.dry_run ? el('span', { class: 'tag dry' }, 'Dry run') : null),
      r.error ? el('div', { class: 'error-box' }, el('strong', {}, 'Error: '), r.error) : null,
      el('dl', { class: 'facts' },
        el('dt', {}, 'Requester'), el('dd', {}, r.requester),
        el('dt', {}, 'Bundle name'), el('dd', {}, r.bundle || '—'),
        el('dt', {}, 'Justification'), el('dd', {}, r.justification || '—'),
        el('dt', {}, 'Approver(s)'), el('dd', {}, approvers, decisions.length ? el('ul', { class: 'decisions' }, decisions) : null),
        el('dt', {}, 'Access flow'), el('dd', {}, r.flow),
        el('dt', {}, 'Duration'), el('dd', {}, duration(r.duration_secs), r.extensions.length ? ` + ${plural(r.extensions.length, 'extension')}` : ''),
        el('dt', {}, 'Requested'), el('dd', {}, when(r.created_at)),
        r.start_at ? [el('dt', {}, 'Starts'), el('dd', {}, when(r.start_at))] : null,
        r.pending_until ? [el('dt', {}, 'Times out'), el('dd', {}, when(r.pending_until))] : null,
        r.granted_at ? [el('dt', {}, 'Granted'), el('dd', {}, when(r.granted_at))] : null,
        r.expires_at && !r.ended_at ? [el('dt', {}, 'Ends'), el('dd', {}, when(r.expires_at))] : null,
        r.ended_at ? [el('dt', {}, 'Closed'), el('dd', {}, when(r.ended_at), r.end_reason ? el('div', {}, r.end_reason) : null)] : null,
        r.repeats ? [el('dt', {}, 'Repeats'), el('dd', {}, el('a', { href: `#/requests/${r.repeats}` }, `#${r.repeats}`))] : null),
      el('h3', {}, 'Requested resources and permissions'),
      el('div', { class: 'card table-wrap' }, entries),
      el('h3', {}, 'Access details'),
      sessions,
    ];
    showDialog(dlg(`Access Request #${r.id}`, body, actions), { panel: true, onclose: back });
  }

  function connectLabel(kind) {
    return { terminal: 'Open in my Terminal', browser: 'Open in Browser', app: 'Open in App' }[kind] || kind;
  }

  function adminMessage(text) {
    return el('div', { class: 'message' }, el('div', { class: 'from' }, 'Message from your admin'), el('p', {}, text));
  }

  // ---------- New Request ----------

  function globMatch(pattern, name) {
    const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    return re.test(name);
  }

  function pageNew() {
    const flows = state.catalog.filter((c) => c.integration);
    const bundleFlows = state.catalog.filter((c) => !c.integration);
    const integrations = [...new Set(flows.map((c) => c.integration))];
    const bundles = bundleFlows.flatMap((c) => c.bundles.map((b) => ({ flow: c, bundle: b })));
    const form = { integration: '', bundle: '', type: '', resources: [], permissions: new Set(), duration: 0, justification: '' };

    const errs = {};
    const field = (name, step, label, control, hint) => {
      errs[name] = el('p', { class: 'field-error', id: `err-${name}`, role: 'alert' });
      return el('div', { class: 'field', id: `field-${name}` },
        el('label', { for: `f-${name}` }, step ? el('span', { class: 'step', 'aria-hidden': 'true' }, step) : null, label),
        hint ? el('div', { class: 'hint', id: `hint-${name}` }, hint) : null, control, errs[name]);
    };
    const setError = (name, text) => {
      if (!errs[name]) return;
      errs[name].textContent = text || '';
      document.getElementById(`field-${name}`).classList.toggle('invalid', Boolean(text));
    };
    const clearErrors = () => Object.keys(errs).forEach((k) => setError(k, ''));

    const matching = () => flows.filter((c) => c.integration === form.integration
      && c.resource_types.some((t) => t.name === form.type && [...form.permissions].every((p) => t.permissions.includes(p)))
      && form.resources.every((r) => c.resources.some((p) => globMatch(p, r))));
    const candidates = () => flows.filter((c) => c.integration === form.integration && (!form.type || c.resource_types.some((t) => t.name === form.type)));
    const chosenFlow = () => {
      if (form.bundle) return bundles.find((b) => b.bundle.name === form.bundle).flow;
      return matching()[0] || candidates()[0];
    };

    // Step 1: integration (or bundle).
    const integrationSel = el('select', { id: 'f-integration', 'aria-describedby': 'err-integration', onchange: () => {
      const v = integrationSel.value;
      form.integration = v.startsWith('bundle:') ? '' : v;
      form.bundle = v.startsWith('bundle:') ? v.slice(7) : '';
      form.type = ''; form.resources = []; form.permissions = new Set();
      update(true);
    } }, el('option', { value: '' }, 'Choose an integration…'),
    integrations.map((i) => {
      const c = flows.find((f) => f.integration === i);
      return el('option', { value: i }, `${i} (${c.kind}${c.dry_run ? ', dry run' : ''})`);
    }),
    bundles.length ? el('optgroup', { label: 'Bundles' }, bundles.map((b) => el('option', { value: `bundle:${b.bundle.name}` }, `Bundle: ${b.bundle.name}`))) : null);

    // Step 2: resource type.
    const typeSel = el('select', { id: 'f-type', 'aria-describedby': 'err-type', onchange: () => {
      form.type = typeSel.value; form.permissions = new Set(); update(true);
    } });

    // Step 3: resources: searchable, typed or picked, up to 1,000.
    const search = el('input', { type: 'search', id: 'f-resources', placeholder: 'Search or type a resource name, then Enter', autocomplete: 'off', 'aria-describedby': 'hint-resources err-resources',
      oninput: () => drawSuggestions(), onkeydown: (ev) => {
        if (ev.key === 'Enter') { ev.preventDefault(); addResources(search.value); }
      }, onpaste: (ev) => {
        const text = (ev.clipboardData || window.clipboardData).getData('text');
        if (/[\n,]/.test(text)) { ev.preventDefault(); addResources(text); }
      } });
    const addBtn = el('button', { type: 'button', class: 'btn small', onclick: () => addResources(search.value) }, 'Add');
    const suggestions = el('ul', { 'aria-label': 'Resources you may request' });
    const selected = el('div', { class: 'selected' });
    const picker = el('div', { class: 'picker' }, el('div', { class: 'search-row' }, search, addBtn), suggestions, selected);

    function addResources(text) {
      const names = text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
      for (const n of names) {
        if (form.resources.includes(n)) continue;
        if (form.resources.length >= 1000) { setError('resources', 'At most 1,000 resources in one request.'); break; }
        form.resources.push(n);
      }
      search.value = '';
      update(false);
      search.focus();
    }

    function drawSuggestions() {
      const patterns = [...new Set(candidates().flatMap((c) => c.resources))];
      const fixed = patterns.filter((p) => !p.includes('*'));
      const q = search.value.trim().toLowerCase();
      const shown = fixed.filter((n) => n.toLowerCase().includes(q)).slice(0, 200);
      const items = shown.map((n) => el('li', {}, el('label', {}, el('input', { type: 'checkbox', checked: form.resources.includes(n), onchange: (ev) => {
        if (ev.target.checked) addResources(n); else { form.resources = form.resources.filter((x) => x !== n); update(false); }
      } }), n)));
      const wild = patterns.filter((p) => p.includes('*'));
      if (q && !fixed.includes(search.value.trim())) {
        const name = search.value.trim();
        const ok = wild.some((p) => globMatch(p, name));
        items.unshift(el('li', {}, el('label', {}, el('input', { type: 'checkbox', onchange: () => addResources(name) }),
          `Add “${name}”`, ok ? '' : el('span', { class: 'muted small' }, ' (no access flow allows this name)'))));
      }
      suggestions.replaceChildren(...items);
      suggestions.hidden = items.length === 0;
    }

    function drawSelected() {
      selected.replaceChildren(
        el('div', { class: 'hint' }, `${form.resources.length} of 1,000 selected`),
        el('div', { class: 'chips' }, form.resources.map((n) => el('span', { class: 'chip' }, n,
          el('button', { type: 'button', 'aria-label': `Remove ${n}`, onclick: () => { form.resources = form.resources.filter((x) => x !== n); update(false); } }, '×')))));
    }

    // Step 4: permissions.
    const perms = el('div', { class: 'checks', id: 'f-permissions', role: 'group', 'aria-describedby': 'err-permissions' });
    // Step 5: duration.
    const durationSel = el('select', { id: 'f-duration', onchange: () => { form.duration = Number(durationSel.value); } });
    // Step 6: justification.
    const just = el('textarea', { id: 'f-justification', rows: 3, maxlength: 4096, 'aria-describedby': 'hint-justification err-justification',
      oninput: () => { form.justification = just.value; } });
    const bundleBox = el('div', { class: 'summary', hidden: true });
    const approvalBox = el('div', { class: 'summary', role: 'note' });
    const messageBox = el('div');
    const formError = el('div', { class: 'error-box', role: 'alert', hidden: true });

    const typeField = field('type', '2', 'Resource type', typeSel);
    const resField = field('resources', '3', 'Resources', picker, 'Up to 1,000. Type a name and press Enter, or paste a list (one per line or comma-separated).');
    const permField = field('permissions', '4', 'Permissions', perms, 'Only what your access flows allow for this resource type.');
    const justField = field('justification', '6', 'Justification', just, '');

    function update(rebuild) {
      clearErrors();
      const isBundle = Boolean(form.bundle);
      typeField.hidden = isBundle || !form.integration;
      resField.hidden = isBundle || !form.type;
      permField.hidden = isBundle || !form.type;
      bundleBox.hidden = !isBundle;
      if (isBundle) {
        const b = bundles.find((x) => x.bundle.name === form.bundle).bundle;
        bundleBox.replaceChildren(el('strong', {}, `Bundle ${b.name} grants:`), el('ul', {}, b.entries.map((e) =>
          el('li', {}, `${e.permissions.join(', ')} on ${e.integration}/${e.resource_type}: ${e.resources.join(', ')}`))));
      }
      if (rebuild) {
        const types = [...new Set(candidates().flatMap((c) => c.resource_types.map((t) => t.name)))];
        if (types.length === 1 && !form.type) form.type = types[0];
        typeSel.replaceChildren(el('option', { value: '' }, 'Choose a resource type…'), ...types.map((t) => el('option', { value: t }, t)));
        typeSel.value = form.type;
        typeField.hidden = isBundle || !form.integration;
        resField.hidden = isBundle || !form.type;
        permField.hidden = isBundle || !form.type;
        const allowed = [...new Set(candidates().flatMap((c) => c.resource_types.filter((t) => t.name === form.type).flatMap((t) => t.permissions)))];
        if (allowed.length === 1) form.permissions = new Set(allowed);
        perms.replaceChildren(...allowed.map((p) => el('label', { class: 'check' },
          el('input', { type: 'checkbox', value: p, checked: form.permissions.has(p), onchange: (ev) => {
            if (ev.target.checked) form.permissions.add(p); else form.permissions.delete(p);
            update(false);
          } }), p)));
      }
      drawSuggestions();
      drawSelected();
      const flow = chosenFlow();
      const pool = form.bundle ? [flow] : (matching().length ? matching() : candidates());
      const max = Math.max(0, ...pool.filter(Boolean).map((c) => c.max_duration_secs));
      const def = flow ? flow.default_duration_secs : 3600;
      const choices = [...new Set([...DURATIONS.filter((d) => d <= max), def, max].filter((d) => d > 0 && d <= max))].sort((a, b) => a - b);
      if (!choices.includes(form.duration)) form.duration = choices.includes(def) ? def : choices[choices.length - 1];
      durationSel.replaceChildren(...choices.map((d) => el('option', { value: d }, duration(d) + (d === def ? ' (default)' : ''))));
      durationSel.value = String(form.duration);
      const hint = document.getElementById('hint-justification');
      if (flow && hint) {
        hint.textContent = flow.justification_pattern ? `Required, like ${flow.justification_pattern.replace(/^\^/, '')}` : flow.justification_required ? 'Required: why you need this access.' : 'Why you need this access (optional here, but approvers read it).';
      }
      if (flow) {
        approvalBox.replaceChildren(flow.break_glass ? el('span', {}, el('strong', {}, 'Break-glass: '), `granted at once; ${flow.approvers.join(', ')} are told.`)
          : flow.approval === 'auto' ? el('span', {}, el('strong', {}, 'Approved automatically'), ` by access flow ${flow.flow}.`)
            : el('span', {}, el('strong', {}, 'Needs approval'), ` by ${flow.approvers.join(', ')} (${plural(flow.approvals_required, 'approval')}), access flow ${flow.flow}.`));
        approvalBox.hidden = false;
        const msg = form.bundle ? bundles.find((x) => x.bundle.name === form.bundle).bundle.message : flow.message;
        messageBox.replaceChildren(msg ? adminMessage(msg) : '');
      } else {
        approvalBox.hidden = true; messageBox.replaceChildren();
      }
    }

    function validate() {
      let ok = true;
      const bad = (name, text) => { setError(name, text); ok = false; };
      if (!form.integration && !form.bundle) bad('integration', 'Choose an integration.');
      if (!form.bundle && form.integration) {
        if (!form.type) bad('type', 'Choose a resource type.');
        else {
          if (!form.resources.length) bad('resources', 'Add at least one resource.');
          else if (form.resources.length > 1000) bad('resources', 'At most 1,000 resources.');
          else {
            const patterns = [...new Set(candidates().flatMap((c) => c.resources))];
            const refused = form.resources.filter((r) => !patterns.some((p) => globMatch(p, r)));
            if (refused.length) bad('resources', `No access flow lets you request ${refused.slice(0, 5).join(', ')}${refused.length > 5 ? ', …' : ''}; allowed: ${patterns.join(', ')}`);
          }
          if (!form.permissions.size) bad('permissions', 'Choose at least one permission.');
        }
      }
      const flow = chosenFlow();
      const j = just.value.trim();
      if (flow && (flow.justification_required || flow.break_glass) && !j) bad('justification', 'This access flow needs a justification.');
      else if (flow && flow.justification_pattern && j) {
        try { if (!new RegExp(flow.justification_pattern).test(j)) bad('justification', `The justification must match ${flow.justification_pattern} (for example an incident number).`); } catch (e) { /* jitd checks it */ }
      }
      return ok;
    }

    function fieldFor(e) {
      const m = e.message.toLowerCase();
      if (m.includes('justification')) return 'justification';
      if (m.includes('at most') && (m.includes('asked for') || m.includes('duration'))) return 'duration';
      if (m.includes('permission')) return 'permissions';
      if (m.includes('resource type')) return 'type';
      if (m.includes('resource') || m.includes('1,000')) return 'resources';
      if (m.includes('integration') || m.includes('bundle')) return 'integration';
      return null;
    }

    const submit = el('button', { type: 'submit', class: 'btn primary' }, 'Submit');
    const node = el('form', { class: 'request card', novalidate: true, onsubmit: async (ev) => {
      ev.preventDefault();
      formError.hidden = true;
      clearErrors();
      if (!validate()) { const bad = node.querySelector('.invalid input, .invalid select, .invalid textarea'); if (bad) bad.focus(); return; }
      const body = form.bundle ? { bundle: form.bundle } : {
        integration: form.integration, resource_type: form.type, resources: form.resources, permissions: [...form.permissions],
      };
      body.duration_secs = form.duration;
      const j = just.value.trim();
      if (j) body.justification = j;
      submit.disabled = true;
      try {
        const r = await api('POST', '/api/requests', body);
        lastPage = null;
        submitted(r);
        location.hash = '#/requests';
      } catch (e) {
        const f = fieldFor(e);
        if (f && errs[f] && !document.getElementById(`field-${f}`).hidden) { setError(f, e.message); const c = document.getElementById(`field-${f}`).querySelector('input, select, textarea'); if (c) c.focus(); }
        else { formError.textContent = e.message; formError.hidden = false; formError.focus && formError.setAttribute('tabindex', '-1'); formError.focus(); }
      } finally { submit.disabled = false; }
    } },
    field('integration', '1', 'Integration', integrationSel, 'What you need access to. Bundles grant a set of resources at once.'),
    bundleBox, typeField, resField, permField,
    field('duration', '5', 'Duration', durationSel, 'The clock starts when access is granted.'),
    justField, approvalBox, messageBox, formError,
    el('div', { class: 'actions' }, submit, el('a', { class: 'btn', href: '#/requests' }, 'Cancel')));

    main.replaceChildren(
      el('div', { class: 'page-head' }, el('div', {}, el('h1', {}, 'New Request'),
        el('p', { class: 'muted' }, 'Only what your access flows allow is offered. Approval is automatic or by approvers, as the flow says.'))),
      state.catalog.length ? node : el('div', { class: 'card empty' }, 'No access flow names you as a requester: ask your admin.'));
    if (integrations.length === 1 && !bundles.length) { integrationSel.value = integrations[0]; form.integration = integrations[0]; }
    update(true);
  }

  /** After a create or Request Again: the Pending Approval pop-up, or wait for Access Granted. */
  function submitted(r) {
    if (r.status === 'pending') {
      showDialog(dlg('Pending Approval', [
        el('div', { class: 'granted-hero pending-hero' }, el('div', { class: 'ok', 'aria-hidden': 'true' }, '…'),
          el('p', {}, `Request #${r.id} waits for ${r.approval.approvers.join(', ')}. You will see it change here as soon as they decide.`)),
      ], [el('a', { class: 'btn primary', href: '#/requests', onclick: closeDialog, autofocus: true }, 'My Requests')]));
    } else if (r.status === 'granted') {
      accessGranted(r);
    } else {
      toast(`Request #${r.id} is ${STATUS[r.status] || r.status}.`);
    }
  }

  // ---------- Access Granted pop-up ----------

  function accessGranted(r) {
    if (state.shownGranted.has(r.id)) return;
    state.shownGranted.add(r.id);
    const messages = [...new Set(r.sessions.map((s) => s.message).filter(Boolean))];
    const w = what(r);
    showDialog(dlg('Access Granted', [
      el('div', { class: 'granted-hero' }, el('div', { class: 'ok', 'aria-hidden': 'true' }, '✓'),
        el('div', {}, el('strong', {}, `Request #${r.id}: ${w.title}`),
          el('div', { class: 'muted' }, `${permissionsOf(r).join(', ')} on ${resourcesOf(r).join(', ')}`),
          el('div', { class: 'small' }, 'Ends ', when(r.expires_at)))),
      messages.map(adminMessage),
    ], [el('button', { type: 'button', class: 'btn', onclick: closeDialog }, 'Close'),
      el('a', { class: 'btn primary', href: '#/access', autofocus: true, onclick: closeDialog }, 'Use Access')]));
  }

  // ---------- My Access ----------

  function pageAccess() {
    const granted = state.open.filter((r) => r.status === 'granted' || r.status === 'revoking');
    const cards = granted.flatMap((r) => r.sessions.map((s) => sessionCard(r, s)));
    main.replaceChildren(
      el('div', { class: 'page-head' }, el('div', {}, el('h1', {}, 'My Access'),
        el('p', { class: 'muted' }, 'Connect to what you were granted, or get the credentials to log in by hand.'))),
      el('h2', {}, 'My Sessions'),
      cards.length ? el('div', { class: 'sessions' }, cards)
        : el('div', { class: 'card empty' }, state.loaded ? ['No granted access. ', el('a', { href: '#/new' }, 'New Request')] : 'Loading…'));
  }

  function sessionCard(r, s) {
    const revoking = r.status === 'revoking';
    return el('section', { class: 'card session', 'aria-label': `${s.integration} session of request ${r.id}` },
      el('div', { class: 'session-head' },
        el('div', {}, el('h3', {}, s.integration, ' ', el('span', { class: 'muted small' }, s.kind)),
          el('a', { href: `#/requests/${r.id}`, class: 'small' }, `Request #${r.id}`), r.bundle ? el('span', { class: 'small muted' }, ` · bundle ${r.bundle}`) : null),
        el('div', { class: 'actions' }, s.rotated ? el('span', { class: 'tag rotated', title: 'Saved credentials or client profiles may no longer work' }, 'Credentials rotated') : null,
          s.dry_run ? el('span', { class: 'tag dry' }, 'Dry run') : null, badge(r.status))),
      el('dl', { class: 'facts' },
        el('dt', {}, 'Resources'), el('dd', {}, chipList(s.resources, 8)),
        el('dt', {}, 'Permissions'), el('dd', {}, permissionsOf(r).join(', ')),
        s.principal ? [el('dt', {}, 'Log in as'), el('dd', { class: 'mono' }, s.principal)] : null,
        el('dt', {}, 'Ends'), el('dd', {}, when(r.expires_at))),
      s.rotated ? el('p', { class: 'warn small' }, 'Your credentials were rotated: saved credentials or client profiles may no longer work. Use Connect again or get the current credentials from Access Details.') : null,
      s.dry_run ? el('p', { class: 'muted small' }, 'A dry-run integration: nothing was provisioned.') : null,
      revoking ? el('p', { class: 'muted small' }, 'The access is being taken away.') : el('div', { class: 'actions' },
        s.connect.length ? el('button', { type: 'button', class: 'btn primary', onclick: () => fresh(r, s, connectDialog) }, 'Connect') : null,
        s.credentials !== 'none' ? el('button', { type: 'button', class: 'btn', onclick: () => fresh(r, s, accessDetails) }, 'Access Details') : null,
        s.credentials !== 'none' ? el('button', { type: 'button', class: 'btn', onclick: () => confirmReset(r) }, 'Reset Credentials') : null,
        el('button', { type: 'button', class: 'btn danger', onclick: () => confirmRevoke(r) }, 'Revoke')));
  }

  /** Runs `show` with the request and session as jitd has them now: the card may be older
   * than a reset or a reveal that just happened. */
  async function fresh(r, s, show) {
    try {
      const now = await api('GET', `/api/requests/${r.id}`);
      const session = now.sessions.find((x) => x.integration === s.integration);
      if (now.status !== 'granted' || !session) { toast(`Request #${r.id} is ${STATUS[now.status] || now.status}.`); refreshSoon(); return; }
      show(now, session);
    } catch (e) { toast(e.message); }
  }

  function connectDialog(r, s) {
    const canLaunch = state.status && state.status.portal.can_launch_terminal;
    const multi = r.sessions.length > 1;
    const cmd = `jit connect ${r.id}${multi ? ` --session ${s.integration}` : ''}`;
    const options = s.connect.map((kind) => {
      const out = el('div', { class: 'connect-out' });
      if (kind === 'terminal') {
        const blocked = s.credentials === 'revealed';
        return el('div', { class: 'option', dataset: { kind } }, el('h3', {}, 'Open in my Terminal'),
          blocked ? el('p', { class: 'warn small' }, 'You already viewed the secret in Access Details, and jitd keeps no copy: use the credentials you saved, or Reset Credentials to connect again.') : null,
          el('p', { class: 'small muted' }, 'Run this in your terminal: jit starts the client with your credentials without showing them, and ends it when the access ends.'),
          codebox(cmd),
          canLaunch && !blocked ? el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn primary', onclick: async (ev) => {
            ev.target.disabled = true;
            try { await api('POST', `/api/requests/${r.id}/launch`, { session: s.integration }); out.replaceChildren(el('p', { class: 'small' }, 'A terminal is opening.')); } catch (e) { out.replaceChildren(el('p', { class: 'field-error' }, e.message)); }
            ev.target.disabled = false;
          } }, 'Launch in a terminal')) : null, out);
      }
      const label = kind === 'browser' ? 'Open in Browser' : 'Open in App';
      return el('div', { class: 'option', dataset: { kind } }, el('h3', {}, label),
        el('p', { class: 'small muted' }, kind === 'browser' ? 'Opens the page your admin set up for this integration.' : 'Opens a connection link (without the password) in the app that handles it.'),
        el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn', onclick: async (ev) => {
          ev.target.disabled = true;
          try {
            const plan = await api('POST', `/api/requests/${r.id}/connect`, { session: s.integration, kind });
            out.replaceChildren(codebox(plan.url), el('a', { class: 'btn small', href: plan.url, target: '_blank', rel: 'noopener noreferrer' }, 'Open'));
            if (kind === 'browser') window.open(plan.url, '_blank', 'noopener,noreferrer');
          } catch (e) { out.replaceChildren(el('p', { class: 'field-error' }, e.message)); }
          ev.target.disabled = false;
        } }, label)), out);
    });
    showDialog(dlg(`Connect: ${s.integration}`, [
      el('p', { class: 'muted' }, `Request #${r.id} · ends `, when(r.expires_at)),
      s.message ? adminMessage(s.message) : null,
      el('div', { class: 'options' }, options),
    ], [el('button', { type: 'button', class: 'btn', onclick: closeDialog }, 'Close')]));
  }

  function accessDetails(r, s) {
    const out = el('div', { class: 'details-out' });
    const reveal = el('button', { type: 'button', class: 'btn primary', onclick: async () => {
      reveal.disabled = true;
      try {
        const creds = await api('POST', `/api/requests/${r.id}/reveal`);
        out.replaceChildren(...creds.sessions.map(credentialBlock));
        reveal.remove();
        warning.replaceChildren(el('strong', {}, 'Copy and store these now. '), 'This is the only time they are shown: jitd has erased them. Closing this window removes them from the page.');
        refreshSoon();
      } catch (e) {
        reveal.disabled = false;
        out.replaceChildren(el('div', { class: 'error-box' }, e.message), e.status === 409
          ? el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn', onclick: () => confirmReset(r) }, 'Reset Credentials')) : null);
      }
    } }, 'Show credentials');
    const warning = el('div', { class: 'warn', role: 'note' }, el('strong', {}, 'Shown once. '),
      'jitd shows the secret one time and keeps no copy. Copy it and store it safely. After that, Connect needs a Reset Credentials first.');
    const already = s.credentials === 'revealed';
    showDialog(dlg(`Access Details: ${r.bundle ? `bundle ${r.bundle}` : s.integration}`, [
      el('p', { class: 'muted' }, `Request #${r.id} · ends `, when(r.expires_at)),
      warning,
      already ? el('p', {}, 'The credentials were already shown once. Use the ones you saved, or Reset Credentials for new ones.') : null,
      out,
    ], [el('button', { type: 'button', class: 'btn', onclick: closeDialog }, 'Close'),
      already ? el('button', { type: 'button', class: 'btn primary', onclick: () => confirmReset(r) }, 'Reset Credentials') : reveal]));
  }

  function credentialBlock(c) {
    const secretLabel = { private_key: 'Private key', token: 'Token' }[c.secret_kind] || 'Password';
    return el('div', { class: 'option', dataset: { session: c.integration } },
      el('h3', {}, c.integration),
      el('dl', { class: 'facts' },
        el('dt', {}, 'User'), el('dd', {}, codebox(c.user)),
        el('dt', {}, secretLabel), el('dd', {}, el('div', { class: 'codebox secret' }, el('code', { class: 'secret-value' }, c.secret), copyButton(() => c.secret))),
        c.host ? [el('dt', {}, 'Host'), el('dd', { class: 'mono' }, c.host + (c.port ? `:${c.port}` : ''))] : null,
        c.resources.length ? [el('dt', {}, 'Resources'), el('dd', {}, c.resources.join(', '))] : null),
      el('p', { class: 'small' }, c.instructions),
      c.example ? [el('div', { class: 'hint' }, 'Example (the password goes in PGPASSWORD or the prompt, never on the command line):'), codebox(c.example)] : null,
      (c.files || []).map((f) => [el('div', { class: 'hint' }, `File ${f.name}:`), codebox(f.contents)]));
  }

  // ---------- Approvals ----------

  function pageApprovals() {
    const list = state.review;
    main.replaceChildren(
      el('div', { class: 'page-head' }, el('div', {}, el('h1', {}, 'Approvals'),
        el('p', { class: 'muted' }, 'Requests waiting for your decision. You never approve your own.'))),
      !state.loaded ? el('div', { class: 'card empty' }, 'Loading…')
        : list.length ? el('div', { class: 'approvals' }, list.map(approvalCard))
          : el('div', { class: 'card empty' }, 'Nothing waits for your approval.'));
  }

  function approvalCard(r) {
    const w = what(r);
    const reason = el('textarea', { id: `reason-${r.id}`, rows: 2, maxlength: 4096, placeholder: 'Shown to the requester and kept in the audit log' });
    const err = el('p', { class: 'field-error', role: 'alert' });
    const act = (verb) => async (ev) => {
      const buttons = ev.target.closest('.actions').querySelectorAll('button');
      buttons.forEach((b) => { b.disabled = true; });
      err.textContent = '';
      try {
        await api('POST', `/api/requests/${r.id}/${verb}`, { reason: reason.value });
        toast(`Request #${r.id} ${verb === 'approve' ? 'approved' : 'rejected'}.`);
        refreshSoon();
      } catch (e) { err.textContent = e.message; buttons.forEach((b) => { b.disabled = false; }); }
    };
    const extension = r.pending_extension;
    return el('article', { class: 'card approval', 'aria-labelledby': `appr-${r.id}`, dataset: { id: r.id } },
      el('div', { class: 'session-head' },
        el('div', {}, el('div', { class: 'who', id: `appr-${r.id}` }, el('strong', {}, r.requester), extension ? ' asks for more time on ' : ' asks for ', el('strong', {}, w.title)),
          el('div', { class: 'small muted' }, `Request #${r.id} · `, when(r.created_at))),
        badge(r.status)),
      el('dl', { class: 'facts' },
        el('dt', {}, 'Resources'), el('dd', {}, chipList(resourcesOf(r), 20)),
        el('dt', {}, 'Permissions'), el('dd', {}, permissionsOf(r).join(', ')),
        el('dt', {}, 'Duration'), el('dd', {}, extension ? `+${duration(extension.added_secs)}` : duration(r.duration_secs)),
        el('dt', {}, 'Justification'), el('dd', {}, (extension ? extension.reason : r.justification) || '—'),
        el('dt', {}, 'Approvals'), el('dd', {}, `${r.approval.approvals.length} of ${r.approval.required}`),
        r.pending_until ? [el('dt', {}, 'Times out'), el('dd', {}, when(r.pending_until))] : null),
      el('div', { class: 'field' }, el('label', { for: `reason-${r.id}` }, 'Reason ', el('span', { class: 'muted' }, '(optional)')), reason, err),
      el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'btn primary', onclick: act('approve') }, 'Approve'),
        el('button', { type: 'button', class: 'btn danger', onclick: act('reject') }, 'Reject')));
  }

  // ---------- live updates ----------

  let gone = false;
  function portalGone() {
    if (gone) return;
    gone = true;
    const b = document.getElementById('banner');
    b.textContent = 'The portal stopped (Ctrl-C or idle). Run `jit portal` again for a new link.';
    b.hidden = false;
    setLive('off', 'Stopped');
  }

  function setLive(cls, text) {
    const l = document.getElementById('live');
    l.className = `live ${cls}`;
    l.querySelector('.live-text').textContent = text;
  }

  const NOTICE = {
    approval_needed: (e) => `${e.request.requester} asks for access: request #${e.request.id} waits for your approval.`,
    rejected: (e) => `Request #${e.request.id} was rejected${e.request.end_reason ? `: ${e.request.end_reason}` : ''}.`,
    expired: (e) => `Request #${e.request.id} expired: the access is gone.`,
    revoked: (e) => `Request #${e.request.id} was revoked: the access is gone.`,
    failed: (e) => `Request #${e.request.id} failed: ${e.error || e.request.error || 'see its details'}.`,
    expiring: (e) => `Request #${e.request.id} ends in ${span(e.expires_in_secs)}.`,
    credentials_rotated: (e) => `Credentials rotated on request #${e.request.id}: saved credentials may no longer work.`,
    approved: (e) => `Request #${e.request.id} was approved by ${e.actor}.`,
  };

  function onEvent(e) {
    if (e.kind === 'connected' || e.kind === 'hello') {
      if (e.kind === 'connected' || e.live) setLive('on', 'Live'); else setLive('off', 'jitd unreachable; retrying');
      if (e.kind === 'connected') refreshSoon();
      return;
    }
    if (e.kind === 'disconnected') { setLive('off', 'jitd unreachable; retrying'); return; }
    if (e.kind === 'resync' || e.kind === 'lagged') { refreshSoon(); return; }
    refreshSoon();
    const r = e.request;
    if (!r) return;
    if (e.kind === 'granted' && r.requester === me()) accessGranted(r);
    else if (NOTICE[e.kind] && (r.requester === me() || e.kind === 'approval_needed')) toast(NOTICE[e.kind](e));
    const open = route();
    if (dialog.open && open.page === 'requests' && Number(open.arg) === r.id) openDetails(r.id);
  }

  function follow() {
    const source = new EventSource('/api/events');
    source.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (err) { /* ignore a bad line */ } };
    source.onerror = async () => {
      setLive('off', 'Reconnecting…');
      try { await fetch('/api/status', { credentials: 'same-origin' }).then((res) => { if (!res.ok) throw new Error(); }); } catch (err) { source.close(); portalGone(); }
    };
  }

  // ---------- start ----------

  async function start() {
    try {
      await Promise.all([loadStatus(), loadCatalog(), loadLists()]);
    } catch (e) {
      main.replaceChildren(el('div', { class: 'card empty error-box' }, e.message));
      return;
    }
    const { page, arg } = route();
    render();
    if (page === 'requests' && arg && /^\d+$/.test(arg)) openDetails(Number(arg));
    follow();
  }

  start();
})();
