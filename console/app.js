/* panelmux operator console.  Plain JavaScript, no build step.
 *
 * Every read and write goes through the admin API (/adminapi/v2/) with the
 * operator key from sessionStorage as X-Api-Key (DESIGN.md "Console").
 * Everything that came from the API is put on the page as text: elements
 * are built with el(), whose string children become text nodes; no HTML is
 * ever parsed from data.  Links are built from numbers and encoded query
 * values only. */
'use strict';
(function () {
  const KEY = 'panelmux.operator-key';
  const API = '/adminapi/v2/';
  const PAGE = 50;
  const STATES = ['queued', 'sending', 'active', 'completed', 'partial',
    'canceled', 'refunded', 'rejected'];
  const FINAL = ['completed', 'partial', 'canceled', 'refunded', 'rejected'];
  /* An upstream balance under this (its own currency) is shown as low. */
  const LOW_BALANCE = 10;

  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  let me = null;        /* {name, read_only} of the signed-in key */
  let flash = null;     /* [class, text] shown once on the next page */
  let renderSeq = 0;
  let sections = { path: null, n: 0 }; /* the page's sections still loading */

  /* --- DOM ------------------------------------------------------------ */

  /* el('a', {href: '#/x'}, 'text', node, [more]) */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (k === 'value') e.value = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    append(e, kids);
    return e;
  }

  function append(e, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(e, k);
      else if (k instanceof Node) e.appendChild(k);
      else e.appendChild(document.createTextNode(String(k)));
    }
  }

  function text(v) {
    if (v === null || v === undefined || v === '') return '\u2014';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function link(href, label) {
    return el('a', { href: href }, text(label));
  }

  function hashOf(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {}))
      if (v !== '' && v !== null && v !== undefined) q.set(k, v);
    const s = q.toString();
    return '#' + path + (s ? '?' + s : '');
  }

  function orderLink(id) { return link('#/orders/' + Number(id), '#' + Number(id)); }
  function userLink(id, name) { return link('#/customers/' + Number(id), name); }

  /* A table in a focusable scrolling region (wide tables scroll there, not
   * the page). */
  function table(caption, heads, rows) {
    const t = el('table', {},
      el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.length ? rows.map((r) => el('tr', {}, r.map((c) =>
        c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c instanceof Node ? c : text(c)))))
        : el('tr', {}, el('td', { colspan: heads.length }, 'Nothing here.'))));
    return el('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': caption }, t);
  }

  function dl(pairs) {
    return el('dl', {}, pairs.map(([k, v]) => [el('dt', {}, k),
      el('dd', {}, v instanceof Node ? v : text(v))]));
  }

  function field(label, input) {
    return el('label', {}, label, input);
  }

  function status(s) {
    return s === 'sending' ? el('mark', {}, 'sending (in doubt)') : text(s);
  }

  /* A write control: a button that opens a confirmation step.  ASK is the
   * question, RUN the write (resolves to a message); the page is rendered
   * again afterwards. */
  function confirmButton(label, ask, run, opts) {
    const box = el('div', {});
    const open = el('button', { type: 'button', class: (opts && opts.cls) || null,
      'data-write': '', onclick: () => showConfirm(box, open, ask, run) }, label);
    box.appendChild(open);
    return box;
  }

  function showConfirm(box, opener, ask, run) {
    const msg = el('p', { role: 'alert' }, typeof ask === 'function' ? ask() : ask);
    const yes = el('button', { type: 'button', 'data-confirm': '' }, 'Confirm');
    const no = el('button', { type: 'button', class: 'secondary' }, 'Back');
    const panel = el('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirmation' },
      msg, el('div', { class: 'row' }, yes, no));
    opener.hidden = true;
    box.appendChild(panel);
    no.addEventListener('click', () => { panel.remove(); opener.hidden = false; opener.focus(); });
    yes.addEventListener('click', async () => {
      yes.disabled = no.disabled = true;
      yes.setAttribute('aria-busy', 'true');
      try {
        flash = ['ok', await run()];
        render();
      } catch (e) {
        panel.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message),
          el('button', { type: 'button', class: 'secondary', onclick: () => {
            panel.remove(); opener.hidden = false; opener.focus();
          } }, 'Back'));
      }
    });
    yes.focus();
  }

  /* --- the admin API -------------------------------------------------- */

  class ApiError extends Error {
    constructor(code, message) { super(message); this.code = code; }
  }

  async function call(method, path, params) {
    const key = sessionStorage.getItem(KEY);
    const init = { method: method, headers: { 'X-Api-Key': key || '' },
      cache: 'no-store', credentials: 'omit', redirect: 'error' };
    let url = API + path;
    if (method === 'GET') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(params || {}))
        if (v !== '' && v !== null && v !== undefined) q.set(k, v);
      if (q.toString()) url += '?' + q.toString();
    } else {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(params || {});
    }
    let r, env;
    try {
      r = await fetch(url, init);
      env = await r.json();
    } catch (e) {
      throw new ApiError(0, 'the admin API did not answer (' + (r ? 'HTTP ' + r.status : e.message) + ')');
    }
    if (env.error_code !== 0) {
      if (env.error_code === 401 && path !== 'me') {
        signOut('The operator key was refused: sign in again.');
        throw new ApiError(401, 'signed out');
      }
      throw new ApiError(env.error_code, env.error_message || 'HTTP ' + r.status);
    }
    return env.data;
  }
  const get = (path, params) => call('GET', path, params);
  const post = (path, body) => call('POST', path, body);

  /* A reference for a payment form: one per form shown, so a double submit
   * or a retry credits once (the API's exactly-once references). */
  function reference() {
    const b = new Uint8Array(8);
    crypto.getRandomValues(b);
    return 'console-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  /* --- session -------------------------------------------------------- */

  function signOut(why) {
    sessionStorage.removeItem(KEY);
    me = null;
    flash = why ? ['error', why] : null;
    render();
  }

  function pageSignIn() {
    nav.hidden = true;
    who.textContent = '';
    const input = el('input', { type: 'password', name: 'key', id: 'key', required: true,
      autocomplete: 'off', spellcheck: 'false' });
    const err = el('p', { class: 'error', role: 'alert' });
    const btn = el('button', { type: 'submit' }, 'Sign in');
    const form = el('form', { id: 'signin' },
      field('Operator key', input),
      el('small', {}, 'Create one with: panelmux admin key add NAME [--read-only]. ' +
        'It is kept in this tab only (sessionStorage) and sent with each request.'),
      btn, err);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      btn.setAttribute('aria-busy', 'true');
      sessionStorage.setItem(KEY, input.value.trim());
      try {
        me = await get('me');
        render();
      } catch (e) {
        sessionStorage.removeItem(KEY);
        btn.removeAttribute('aria-busy');
        err.textContent = e.code === 401 ? 'That key was refused.' : e.message;
        input.focus();
      }
    });
    return [el('h1', { tabindex: -1 }, 'Sign in'), form];
  }

  /* --- pages ---------------------------------------------------------- */

  function pager(path, q, count) {
    const offset = Number(q.get('offset') || 0);
    const params = Object.fromEntries(q.entries());
    const items = [];
    if (offset > 0)
      items.push(link(hashOf(path, { ...params, offset: Math.max(0, offset - PAGE) || '' }), '\u2190 Previous page'));
    items.push(el('span', {}, count ? `Rows ${offset + 1}\u2013${offset + count}` : 'No rows'));
    if (count === PAGE)
      items.push(link(hashOf(path, { ...params, offset: offset + PAGE }), 'Next page \u2192'));
    return el('nav', { class: 'pager', 'aria-label': 'Pages' }, items);
  }

  /* The overview answers the first questions (what waits for me, how
   * many orders in each state, are the upstreams well) before the slower
   * ones: the money report and the chart fill their sections when their
   * calls return (aria-busy until then). */
  async function pageOverview() {
    const [counts, ups] = await Promise.all([
      Promise.all(STATES.map((s) => get('orders', { order_status: s, limit: 1000 })
        .then((d) => d.count))),
      get('upstreams')]);
    const n = (c) => (c >= 1000 ? '1000+' : String(c));
    const doubt = counts[STATES.indexOf('sending')];
    const out = [el('h1', { tabindex: -1 }, 'Overview')];
    out.push(el('p', { id: 'in-doubt' }, doubt > 0
      ? [el('strong', {}, n(doubt) + (doubt === 1 ? ' order in doubt' : ' orders in doubt')),
        doubt === 1 ? ' waits for a decision: ' : ' wait for a decision: ',
        link('#/orders?order_status=sending', doubt === 1 ? 'resolve it' : 'resolve them')]
      : 'No order is in doubt.'));
    out.push(el('h2', {}, 'Orders by state'));
    out.push(el('div', { class: 'cards' }, STATES.map((s, i) => el('article', {},
      el('a', { href: hashOf('/orders', { order_status: s }) },
        el('span', { class: 'n' }, n(counts[i])), s)))));
    out.push(el('h2', {}, 'Upstreams'));
    out.push(upstreamTable(ups.list));
    const stats = get('stats', { days: 30 });
    out.push(el('h2', {}, 'Today (UTC)'));
    out.push(later(async () => {
      const t = (await stats).today;
      return dl([['Orders', t.orders], ['Revenue', t.revenue], ['Upstream cost', t.cost],
        ['Margin', t.margin]]);
    }));
    out.push(el('h2', {}, 'Money (all time)'));
    out.push(later(async () => {
      const report = await get('report');
      return dl([['Revenue', report.total.revenue], ['Upstream cost', report.total.cost],
        ['Margin', report.total.margin]]);
    }));
    out.push(el('h2', {}, 'Orders per hour'));
    out.push(later(async () => {
      const s = await stats;
      return el('div', {}, ordersChart(s, 7), ordersChart(s, 30));
    }));
    out.push(el('h2', {}, 'Margin per day'));
    out.push(later(async () => marginCharts(await stats)));
    return out;
  }

  /* A section filled by FN's node when it resolves. */
  function later(fn) {
    const box = el('div', { 'aria-busy': 'true', class: 'later' }, el('p', {}, 'Loading\u2026'));
    const mine = sections;
    mine.n++;
    fn().then((node) => box.replaceChildren(node),
      (e) => box.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message)))
      .finally(() => {
        box.removeAttribute('aria-busy');
        if (--mine.n === 0 && mine === sections)
          performance.mark('panelmux:complete:' + mine.path);
      });
    return box;
  }

  /* A uPlot line chart of XS and YS in BOX, drawn once the figure is in
   * the page (for its width). */
  function plot(box, xs, ys, label, color) {
    if (!window.uPlot) return;
    const width = Math.max(280, Math.min(main.clientWidth - 10, 900));
    requestAnimationFrame(() => {
      if (!box.isConnected) return;
      new window.uPlot({ width: width, height: 200, legend: { show: false },
        series: [{}, { label: label, stroke: color, fill: color + '26' }],
        axes: [{}, { size: 50 }] }, [xs, ys], box);
    });
  }

  /* Orders per hour over the last DAYS days (the server counts them). */
  function ordersChart(stats, days) {
    const now = Math.floor(Date.now() / 1000);
    const start = Math.floor(now / 3600) * 3600 - days * 24 * 3600;
    const byHour = new Map(stats.hours.map((h) => [h[0], h[1]]));
    const hours = [], counts = [];
    let total = 0;
    for (let t = start; t <= now; t += 3600) {
      hours.push(t);
      counts.push(byHour.get(t) || 0);
      total += byHour.get(t) || 0;
    }
    const box = el('div', { class: 'chart', 'aria-hidden': 'true' });
    plot(box, hours, counts, 'orders', '#1d4ed8');
    return el('figure', {}, box, el('figcaption', {},
      `Orders created per hour, last ${days} days: ${total} in all.`));
  }

  /* Margin per UTC day over the last 7 and 30 days, with the table the
   * charts are drawn from (the figures a screen reader gets). */
  function marginCharts(stats) {
    const byDay = new Map(stats.days.map((d) => [d.day, d]));
    const today = Math.floor(Date.now() / 86400000) * 86400;
    const figs = [7, 30].map((n) => {
      const xs = [], ys = [];
      let sum = 0;
      for (let i = n - 1; i >= 0; i--) {
        const t = today - i * 86400;
        const d = byDay.get(new Date(t * 1000).toISOString().slice(0, 10));
        xs.push(t);
        ys.push(d ? Number(d.margin) : 0);
        sum += d ? Number(d.margin) : 0;
      }
      const box = el('div', { class: 'chart', 'aria-hidden': 'true' });
      plot(box, xs, ys, 'margin', '#15803d');
      return el('figure', {}, box, el('figcaption', {},
        `Margin per day, last ${n} days: ${sum.toFixed(2)} in all.`));
    });
    const rows = stats.days.slice().reverse().map((d) =>
      [d.day, d.orders, d.revenue, d.cost, d.margin]);
    return el('div', {}, figs, el('details', {}, el('summary', {}, 'Per day, last 30 days'),
      table('Margin per day', ['Day', 'Orders', 'Revenue', 'Upstream cost', 'Margin'], rows)));
  }

  /* An upstream's circuit as the route's health. */
  function health(c) {
    return c === 'closed' ? 'healthy' : c ? el('strong', {}, 'circuit ' + c) : 'unknown';
  }

  /* The recent adds routing judges an upstream's health by. */
  function recentAdds(r) {
    if (!r || !r.count) return 'none';
    const bad = r.rejected + r.not_sent;
    const s = `${r.count}: ${r.rejected} refused, ${r.not_sent} not sent`;
    return 2 * bad >= r.count ? el('strong', {}, s) : s;
  }

  function upstreamTable(list) {
    return table('Upstreams', ['Upstream', 'Circuit', 'Balance', 'Services', 'Last sync',
      'Recent adds (last 20, 5 min)', 'Failed calls (since start)'],
      list.map((u) => {
        const low = u.balance !== null && Number(u.balance) < LOW_BALANCE;
        const rate = u.calls > 0 ? ` (${(100 * u.failed / u.calls).toFixed(1)}%)` : '';
        return [u.name, u.circuit === 'closed' ? 'closed (healthy)' : el('strong', {}, u.circuit),
          el('td', { class: low ? 'low' : null },
            u.balance === null ? 'unknown' : `${u.balance} ${u.currency}` + (low ? ' (low)' : '')),
          u.services, u.last_sync, recentAdds(u.recent_adds),
          `${u.failed} of ${u.calls}` + rate];
      }));
  }

  async function pageOrders(m, q) {
    const params = {
      user: q.get('user') || '', order_status: q.get('order_status') || '',
      service_ids: q.get('service_ids') || '', upstream: q.get('upstream') || '',
      link: q.get('link') || '',
      sort: q.get('sort') || '', offset: q.get('offset') || '', limit: PAGE,
    };
    const day = (name) => {
      const v = q.get(name);
      if (!v) return '';
      const t = Date.parse(v + 'T00:00:00Z') / 1000;
      return Number.isFinite(t) ? t + (name === 'to' ? 86399 : 0) : '';
    };
    params.created_from = day('from');
    params.created_to = day('to');
    const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Orders' },
      field('Customer', el('input', { name: 'user', value: params.user, autocomplete: 'off' })),
      field('State', el('select', { name: 'order_status' }, el('option', { value: '' }, 'any'),
        STATES.map((s) => el('option', { value: s, selected: s === params.order_status }, s)))),
      field('Service IDs', el('input', { name: 'service_ids', value: params.service_ids,
        inputmode: 'numeric', placeholder: '1,2' })),
      field('Upstream', el('input', { name: 'upstream', value: params.upstream })),
      field('Link contains', el('input', { name: 'link', value: params.link, autocomplete: 'off' })),
      field('Created from', el('input', { type: 'date', name: 'from', value: q.get('from') || '' })),
      field('Created to', el('input', { type: 'date', name: 'to', value: q.get('to') || '' })),
      field('Order', el('select', { name: 'sort' },
        el('option', { value: '' }, 'newest first'),
        el('option', { value: 'date-asc', selected: params.sort === 'date-asc' }, 'oldest first'))),
      el('button', { type: 'submit' }, 'Search'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = Object.fromEntries(new FormData(form).entries());
      location.hash = hashOf('/orders', f);
    });
    const jump = el('form', { class: 'row', role: 'search', 'aria-label': 'Order by ID' },
      field('Order ID', el('input', { name: 'id', inputmode: 'numeric', pattern: '[0-9]+', required: true })),
      el('button', { type: 'submit', class: 'secondary' }, 'Open'));
    jump.addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.hash = '#/orders/' + Number(new FormData(jump).get('id'));
    });
    const d = await get('orders', params);
    return [el('h1', { tabindex: -1 }, 'Orders'), jump, form,
      table('Orders', ['Order', 'Customer', 'Service', 'State', 'Quantity', 'Charge', 'Refunded', 'Created'],
        d.list.map((o) => [orderLink(o.id), userLink(o.user_id, o.user), o.service_id,
          status(o.status), o.quantity, o.charge, o.refunded, o.created])),
      pager('/orders', q, d.count)];
  }

  async function pageOrder(m) {
    const id = Number(m[1]);
    const o = await get('orders/' + id, { include: 'provider' });
    const out = [el('h1', { tabindex: -1 }, 'Order #' + id)];
    out.push(dl([['State', status(o.status)], ['Customer', userLink(o.user_id, o.user)],
      ['Service', o.service_id], ['Type', o.type], ['Quantity', o.quantity],
      ['Runs', o.runs || null], ['Interval', o.interval || null], ['Charge', o.charge],
      ['Refunded', o.refunded], ['Start count', o.start_count], ['Remains', o.remains],
      ['Created', o.created], ['Last update', o.last_update]]));
    if (!me.read_only) out.push(orderActions(o));
    out.push(el('h2', {}, 'Timeline'));
    const events = (o.timeline || []).map((e) => [e.at, e.event]);
    for (const e of o.ledger || [])
      events.push([e.created, `${e.kind} ${e.amount}` + (e.note ? ` (${e.note})` : '')]);
    /* by time; a stable sort keeps the order of events of one second */
    events.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    out.push(el('ol', { id: 'timeline' }, events.map(([t, what]) => el('li', {}, text(t) + ': ' + what))));
    out.push(el('h2', {}, 'Forwarded fields'));
    out.push(dl(Object.entries(o.fields || {}).map(([k, v]) => [k, v])));
    out.push(el('h2', {}, 'Upstream'));
    const p = o.provider || {};
    out.push(dl([['Upstream', p.upstream], ['Upstream service', p.service],
      ['Upstream order', p.order], ['Upstream status', p.status], ['Cost', p.cost]]));
    out.push(el('h2', {}, 'Ledger'));
    out.push(table('Ledger', ['Entry', 'Kind', 'Amount', 'Note', 'Created'],
      (o.ledger || []).map((e) => [e.id, e.kind, e.amount, el('td', { class: 'wrap' }, text(e.note)), e.created])));
    return out;
  }

  function orderActions(o) {
    const box = el('section', { 'aria-label': 'Actions' }, el('h2', {}, 'Actions'));
    if (o.status === 'sending') {
      const up = el('input', { name: 'upstream_order', id: 'resolve-upstream', autocomplete: 'off' });
      const how = el('select', { name: 'how', id: 'resolve-how' },
        el('option', { value: 'upstream' }, 'the upstream has it: give its order ID'),
        el('option', { value: 'refund' }, 'the upstream never took it: refund'));
      const upLabel = field('Upstream order ID', up);
      how.addEventListener('change', () => { upLabel.hidden = how.value === 'refund'; });
      box.append(el('p', {}, 'The upstream gave no usable answer when this order was sent. ' +
        'Look it up on the upstream, then settle it:'),
      field('Resolution', how), upLabel,
      confirmButton('Resolve\u2026', () => how.value === 'refund'
        ? `Refund order #${o.id} (${o.charge}) to ${o.user}?`
        : `Record order #${o.id} as upstream order ${up.value}?`, async () => {
        const body = how.value === 'refund' ? { id: o.id, refund: true }
          : { id: o.id, upstream_order: up.value.trim() };
        if (!body.refund && !body.upstream_order) throw new Error('Give the upstream order ID.');
        const r = await post('orders/resolve', body);
        return `Order #${o.id} resolved: now ${r.status}.`;
      }));
    }
    if (!FINAL.includes(o.status)) {
      box.append(confirmButton('Cancel order\u2026', `Cancel order #${o.id}? A queued order is ` +
        'refunded at once; an active one is asked of its upstream.', async () => {
        const r = await post('orders/cancel', { ids: [o.id] });
        const row = r.list[0] || {};
        if (row.result === 'error') throw new Error('Not canceled: ' + text(row.error));
        return `Order #${o.id}: cancel ${row.result}.`;
      }, { cls: 'secondary' }));
    }
    if (box.children.length === 1) box.append(el('p', {}, 'This order is final: nothing to do.'));
    return box;
  }

  async function pageCustomers(m, q) {
    const name = q.get('username') || '';
    const st = q.get('status') || '';
    const search = el('form', { class: 'filters', role: 'search', 'aria-label': 'Customers' },
      field('Username (exact)', el('input', { name: 'username', value: name, autocomplete: 'off' })),
      field('Status', el('select', { name: 'status' }, el('option', { value: '' }, 'any'),
        ['active', 'disabled'].map((s) => el('option', { value: s, selected: s === st }, s)))),
      el('button', { type: 'submit' }, 'Search'));
    search.addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.hash = hashOf('/customers', Object.fromEntries(new FormData(search).entries()));
    });
    const d = await get('users', { username: name, status: st, limit: PAGE, offset: q.get('offset') || '' });
    const out = [el('h1', { tabindex: -1 }, 'Customers'), search,
      table('Customers', ['ID', 'Username', 'Balance', 'Status', 'Created'],
        d.list.map((u) => [u.id, userLink(u.id, u.username), u.balance, u.status, u.created])),
      pager('/customers', q, d.count)];
    if (!me.read_only) {
      const input = el('input', { name: 'username', id: 'new-username', required: true, autocomplete: 'off' });
      const result = el('div', { 'aria-live': 'polite' });
      const form = el('form', { id: 'add-customer', 'data-write': '' }, field('Username', input),
        el('button', { type: 'submit' }, 'Add customer'), result);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          const r = await post('users/add', { username: input.value.trim() });
          result.replaceChildren(keyShown(r.user.username, r.api_key),
            link('#/customers/' + Number(r.user.id), 'Open ' + r.user.username));
          input.value = '';
        } catch (e) {
          result.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message));
        }
      });
      out.push(el('h2', {}, 'Add a customer'), form);
    }
    return out;
  }

  function keyShown(user, key) {
    return el('div', { class: 'confirm' },
      el('p', {}, `API key of ${user}, shown this once: copy it now.`),
      el('p', { class: 'secret', id: 'shown-key' }, key));
  }

  async function pageCustomer(m) {
    const u = await get('users/' + Number(m[1]));
    const [pays, orders] = await Promise.all([
      get('payments', { username: u.username, limit: PAGE }),
      get('orders', { user: u.username, limit: PAGE })]);
    const out = [el('h1', { tabindex: -1 }, 'Customer ' + u.username)];
    out.push(dl([['ID', u.id], ['Balance', el('span', { id: 'balance' }, u.balance)],
      ['Status', u.status], ['Created', u.created]]));
    if (!me.read_only) out.push(...customerActions(u));
    out.push(el('h2', {}, 'Payments'));
    out.push(table('Payments', ['ID', 'Amount', 'Method', 'Memo', 'Reference', 'By', 'Created'],
      pays.list.map((p) => [p.id, p.amount, p.method, el('td', { class: 'wrap' }, text(p.memo)),
        p.external_id, p.by, p.created])));
    out.push(el('h2', {}, 'Orders'));
    out.push(table('Orders of ' + u.username, ['Order', 'Service', 'State', 'Charge', 'Created'],
      orders.list.map((o) => [orderLink(o.id), o.service_id, status(o.status), o.charge, o.created])));
    if (orders.count === PAGE)
      out.push(link(hashOf('/orders', { user: u.username }), 'All orders of ' + u.username));
    return out;
  }

  function customerActions(u) {
    const amount = el('input', { name: 'amount', id: 'pay-amount', inputmode: 'decimal', required: true,
      autocomplete: 'off', placeholder: '25.00' });
    const dir = el('select', { name: 'direction', id: 'pay-direction' },
      el('option', { value: 'add' }, 'credit (add funds)'),
      el('option', { value: 'deduct' }, 'deduct'));
    const method = el('input', { name: 'method', id: 'pay-method', value: 'console' });
    const memo = el('input', { name: 'memo', id: 'pay-memo' });
    const ref = el('input', { name: 'external_id', id: 'pay-ref', value: reference(), maxlength: 64 });
    const pay = el('section', { 'aria-label': 'Payment' }, el('h2', {}, 'Credit or deduct'),
      el('div', { class: 'filters' }, field('Amount', amount), field('Direction', dir),
        field('Method', method), field('Memo', memo), field('External reference', ref)),
      confirmButton('Record payment\u2026', () => `${dir.value === 'add' ? 'Credit' : 'Deduct'} ` +
        `${amount.value} ${dir.value === 'add' ? 'to' : 'from'} ${u.username} (reference ${ref.value})?`,
      async () => {
        const r = await post('payments/' + dir.value, { username: u.username, amount: amount.value.trim(),
          method: method.value, memo: memo.value, external_id: ref.value.trim() || null });
        return (r.duplicate ? 'Already recorded under this reference: ' : 'Recorded: ') +
          `payment ${r.payment_id}, balance now ${r.user.balance}.`;
      }));
    const acct = el('section', { 'aria-label': 'Account' }, el('h2', {}, 'Account'),
      el('div', { class: 'row' },
        u.status === 'active'
          ? confirmButton('Disable\u2026', `Disable ${u.username}? Their key stops working until enabled.`,
            async () => { await post('users/disable', { username: u.username }); return u.username + ' disabled.'; },
            { cls: 'secondary' })
          : confirmButton('Enable\u2026', `Enable ${u.username}?`,
            async () => { await post('users/enable', { username: u.username }); return u.username + ' enabled.'; }),
        confirmButton('Rotate API key\u2026', `Give ${u.username} a new API key? The old one stops working at once.`,
          async () => {
            const r = await post('users/rotate-key', { username: u.username });
            flashNode = keyShown(u.username, r.api_key);
            return 'New key made.';
          }, { cls: 'secondary' })));
    return [pay, acct];
  }
  let flashNode = null;

  async function pageServices(m, q) {
    const [d, ups] = await Promise.all([get('services'), get('upstreams')]);
    const circuit = new Map(ups.list.map((u) => [u.name, u.circuit]));
    const filter = (q.get('q') || '').toLowerCase();
    const rows = [];
    for (const s of d.list) {
      if (filter && !String(s.name).toLowerCase().includes(filter) && String(s.id) !== filter) continue;
      const routes = s.routes.length ? s.routes : [null];
      for (const r of routes)
        rows.push([s.id, el('td', { class: 'wrap' }, text(s.name)), s.category, s.rate, `${s.min}\u2013${s.max}`,
          r ? `${r.upstream}:${r.service}` : 'no route', r ? r.cost : null, r ? r.rate : null,
          r ? el('td', { class: Number(r.margin) < 0 ? 'low' : null }, r.margin) : null,
          r ? health(circuit.get(r.upstream)) : null]);
    }
    const search = el('form', { class: 'row', role: 'search', 'aria-label': 'Services' },
      field('Name or ID', el('input', { name: 'q', value: q.get('q') || '', autocomplete: 'off' })),
      el('button', { type: 'submit' }, 'Filter'));
    search.addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.hash = hashOf('/services', { q: new FormData(search).get('q') });
    });
    return [el('h1', { tabindex: -1 }, 'Services'), search,
      el('p', {}, 'Prices per 1000. A route\u2019s margin is the price less its upstream cost.'),
      table('Services', ['ID', 'Name', 'Category', 'Price', 'Min\u2013max', 'Route', 'Cost', 'Route rate', 'Margin',
        'Route health'], rows),
      el('h2', {}, 'Dropped by their upstream'),
      later(() => priceChanges('dropped', 'No service was dropped by its upstream.')),
      el('h2', {}, 'Price changes'),
      later(() => priceChanges(null, 'No price has changed since the first sync.'))];
  }

  /* The newest 50 entries of the price-change log (of KIND, or all). */
  async function priceChanges(kind, none) {
    const d = await get('services/changes', { kind: kind, limit: 50 });
    if (!d.list.length) return el('p', {}, none);
    return table(kind === 'dropped' ? 'Dropped services' : 'Price changes',
      ['When', 'Upstream', 'Service', 'Change', 'Cost', 'Price'],
      d.list.map((c) => [c.created, c.upstream, c.service, c.kind,
        c.kind === 'changed' ? `${text(c.cost_before)} \u2192 ${text(c.cost_after)}`
          : text(c.cost_after !== null ? c.cost_after : c.cost_before),
        c.kind === 'changed' ? `${text(c.price_before)} \u2192 ${text(c.price_after)}`
          : text(c.price_after !== null ? c.price_after : c.price_before)]));
  }

  async function pageUpstreams() {
    const d = await get('upstreams');
    const out = [el('h1', { tabindex: -1 }, 'Upstreams'), upstreamTable(d.list)];
    if (!me.read_only) {
      out.push(el('h2', {}, 'Sync now'),
        el('p', {}, 'Fetch an upstream\u2019s services and balance now instead of at its next sync.'),
        el('div', { class: 'row' }, d.list.map((u) => el('button', {
          type: 'button', 'data-write': '', class: 'secondary', onclick: async (ev) => {
            ev.target.setAttribute('aria-busy', 'true');
            try {
              const r = await post('upstreams/sync', { upstream: u.name });
              flash = ['ok', r.already_running ? `A sync of ${u.name} was already running.`
                : `Sync of ${u.name} started: its last sync changes when it ends.`];
            } catch (e) {
              flash = ['error', e.message];
            }
            render();
          } }, 'Sync ' + u.name))));
    }
    return out;
  }

  async function pageAudit(m, q) {
    const actor = q.get('actor') || '';
    const search = el('form', { class: 'row', role: 'search', 'aria-label': 'Audit' },
      field('Actor', el('input', { name: 'actor', value: actor, autocomplete: 'off', placeholder: 'admin:NAME' })),
      el('button', { type: 'submit' }, 'Filter'));
    search.addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.hash = hashOf('/audit', { actor: new FormData(search).get('actor') });
    });
    const d = await get('audit', { actor: actor, limit: PAGE, offset: q.get('offset') || '' });
    return [el('h1', { tabindex: -1 }, 'Audit'), search,
      table('Audit trail', ['When', 'Actor', 'Action', 'Target', 'Result', 'Detail'],
        d.list.map((a) => [a.created, a.actor, a.action, a.target, a.result,
          el('td', { class: 'wrap' }, el('code', { class: 'detail' }, text(a.detail)))])),
      pager('/audit', q, d.count)];
  }

  /* --- routing -------------------------------------------------------- */

  const ROUTES = [
    [/^\/overview$/, pageOverview, 'Overview', '#/overview'],
    [/^\/orders$/, pageOrders, 'Orders', '#/orders'],
    [/^\/orders\/([1-9][0-9]*)$/, pageOrder, 'Order', '#/orders'],
    [/^\/customers$/, pageCustomers, 'Customers', '#/customers'],
    [/^\/customers\/([1-9][0-9]*)$/, pageCustomer, 'Customer', '#/customers'],
    [/^\/services$/, pageServices, 'Services', '#/services'],
    [/^\/upstreams$/, pageUpstreams, 'Upstreams', '#/upstreams'],
    [/^\/audit$/, pageAudit, 'Audit', '#/audit'],
  ];

  async function render() {
    const seq = ++renderSeq;
    const raw = location.hash.replace(/^#/, '') || '/overview';
    const cut = raw.indexOf('?');
    const path = cut < 0 ? raw : raw.slice(0, cut);
    const q = new URLSearchParams(cut < 0 ? '' : raw.slice(cut + 1));
    sections = { path: path, n: 0 };
    const note = flash ? el('p', { class: flash[0], role: 'status', id: 'flash' }, flash[1]) : null;
    const extra = flashNode;
    flash = null;
    flashNode = null;
    if (!sessionStorage.getItem(KEY)) {
      main.replaceChildren(...[note, ...pageSignIn()].filter(Boolean));
      document.title = 'Sign in \u2014 panelmux';
      main.querySelector('input').focus();
      return;
    }
    nav.hidden = false;
    try {
      if (!me) me = await get('me');
    } catch (e) {
      if (seq !== renderSeq) return;
      if (e.code === 401) return signOut('The operator key was refused: sign in again.');
      main.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    who.textContent = `Signed in as ${me.name}` + (me.read_only ? ' (read-only)' : '');
    let route = null, m = null;
    for (const r of ROUTES) if ((m = r[0].exec(path))) { route = r; break; }
    for (const a of nav.querySelectorAll('a'))
      if (route && a.getAttribute('href') === route[3]) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    if (!route) {
      main.replaceChildren(el('h1', { tabindex: -1 }, 'Not found'),
        el('p', {}, 'No such page. '), link('#/overview', 'Go to the overview'));
      return;
    }
    main.setAttribute('aria-busy', 'true');
    let nodes;
    try {
      nodes = await route[1](m, q);
    } catch (e) {
      if (e.code === 401 && !sessionStorage.getItem(KEY)) return;
      nodes = [el('h1', { tabindex: -1 }, route[2]),
        el('p', { class: 'error', role: 'alert' }, e.message)];
    }
    if (seq !== renderSeq) return;
    main.removeAttribute('aria-busy');
    main.replaceChildren(...[note, extra, ...nodes].filter(Boolean));
    document.title = route[2] + ' \u2014 panelmux';
    /* For make bench: the time from navigation to this page's content
     * (and to its last section, for pages that fill some later). */
    performance.mark('panelmux:rendered:' + path);
    if (sections.n === 0) performance.mark('panelmux:complete:' + path);
    const h1 = main.querySelector('h1');
    if (h1 && document.activeElement !== document.body) h1.focus({ preventScroll: true });
  }

  document.getElementById('signout').addEventListener('click', () => signOut(null));
  window.addEventListener('hashchange', render);
  render();
})();
