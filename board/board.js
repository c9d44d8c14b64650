// statevtab-board: the page.  Polls GET /api/state and draws it; the
// buttons POST to /api/... with the token from the URL's #token=... (kept
// in sessionStorage, never sent anywhere but this board).  Values from the
// database are only ever set as text (textContent), never as HTML.
'use strict';
(function () {
  var POLL_MS = 2000;
  var TOKEN_KEY = 'statevtab-board-token';
  var token = null;
  var openDetails = {};

  var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname);
  } else {
    token = sessionStorage.getItem(TOKEN_KEY);
  }
  if (!token) document.body.classList.add('readonly');
  document.getElementById('mode').textContent = token
    ? 'writes enabled' : 'read-only: open the URL with #token=... that the board printed at start';

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'onclick') e.addEventListener('click', attrs[k]);
        else e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  function num(n, cls) {
    var v = n === null || n === undefined ? '' : String(n);
    return el('td', { 'class': 'num ' + (cls || '') + (n === 0 ? ' zero' : ''), text: v });
  }
  function when(ms) {
    if (ms === null || ms === undefined) return '';
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }
  function age(ms) {
    if (ms === null || ms === undefined) return '';
    if (ms < 1000) return ms + ' ms';
    var s = Math.round(ms / 1000);
    if (s < 120) return s + ' s';
    if (s < 7200) return Math.round(s / 60) + ' min';
    return Math.round(s / 3600) + ' h';
  }
  function chart(values, cls, title) {
    var NS = 'http://www.w3.org/2000/svg';
    var w = 120, h = 24, svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'chart ' + cls);
    svg.setAttribute('width', w); svg.setAttribute('height', h);
    var t = document.createElementNS(NS, 'title'); t.textContent = title; svg.appendChild(t);
    if (values && values.length > 1) {
      var max = Math.max.apply(null, values.concat([1]));
      var pts = values.map(function (v, i) {
        return (i * (w - 2) / (values.length - 1) + 1).toFixed(1) + ',' + (h - 2 - v * (h - 4) / max).toFixed(1);
      });
      var pl = document.createElementNS(NS, 'polyline');
      pl.setAttribute('points', pts.join(' '));
      svg.appendChild(pl);
    }
    return svg;
  }
  function say(text, isError) {
    var box = document.getElementById('message');
    box.textContent = text;
    box.className = isError ? 'error' : '';
    box.hidden = !text;
  }
  function act(path, body, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return;
    fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return { status: r.status, json: j }; });
    }).then(function (r) {
      if (r.status === 200) say(path + ': done (' + r.json.changed + ' changed)', false);
      else say(path + ': ' + r.status + ' ' + r.json.error, true);
      poll(true);
    }).catch(function (e) { say(path + ': ' + e, true); });
  }
  function button(label, cls, onclick) {
    return el('button', { type: 'button', 'class': cls || '', onclick: onclick, text: label });
  }
  function heading(t) {
    return el('h3', null, [t.table + ' ', el('span', { 'class': 'store', text: t.store || '' })]);
  }
  function tableOf(headers, rows) {
    return el('table', null, [
      el('thead', null, [el('tr', null, headers.map(function (h) { return el('th', { text: h }); }))]),
      el('tbody', null, rows)
    ]);
  }
  function errorLine(t) {
    return t.error ? el('p', { 'class': 'error', text: t.error }) : null;
  }
  function fill(id, nodes) {
    var body = document.querySelector('#' + id + ' .body');
    body.replaceChildren.apply(body, nodes.filter(function (n) { return n; }));
  }
  function none(what) { return el('p', { 'class': 'muted', text: what }); }

  function drawQueues(state) {
    var nodes = [];
    state.tasks.forEach(function (t) {
      nodes.push(heading(t));
      if (t.error) { nodes.push(errorLine(t)); return; }
      if (!t.queues.length) { nodes.push(none('no queue has tasks')); return; }
      nodes.push(tableOf(['queue', 'pending', 'scheduled', 'waiting', 'claimed', 'expired', 'completed',
        'failed', 'dead', 'cancelled', 'oldest pending', 'done last min', 'done / min (1 h)',
        'backlog (1 h)', 'state', ''], t.queues.map(function (q) {
        var b = t.backlog[q.queue];
        var row = el('tr', {
          'class': 'queue', 'data-table': t.table, 'data-queue': q.queue,
          'data-counts': ['pending', 'scheduled', 'waiting', 'claimed', 'expired', 'completed', 'failed',
            'dead', 'cancelled', 'paused'].map(function (k) { return k + '=' + q[k]; }).join(' ')
        }, [
          el('td', { text: q.queue }), num(q.pending, 'c-pending'), num(q.scheduled, 'c-scheduled'),
          num(q.waiting, 'c-waiting'), num(q.claimed, 'c-claimed'), num(q.expired, q.expired ? 'bad' : ''),
          num(q.completed, 'c-completed'), num(q.failed, 'c-failed'), num(q.dead, q.dead ? 'bad c-dead' : 'c-dead'),
          num(q.cancelled, 'c-cancelled'),
          el('td', { 'class': 'num', text: age(q.oldest_pending_ms) }),
          num(q.completed_last_minute),
          el('td', null, [chart(q.completed_per_minute, 'done', 'completions per minute, last hour (store)')]),
          el('td', null, [chart(b ? b.pending : [], 'backlog', 'pending tasks, last hour (board samples)')]),
          el('td', null, [el('span', { 'class': 'badge ' + (q.paused ? 'paused' : 'running'),
            text: q.paused ? 'paused' : 'running' })]),
          el('td', null, [q.paused
            ? button('Resume', '', function () { act('/api/resume', { table: t.table, queue: q.queue }); })
            : button('Pause', '', function () { act('/api/pause', { table: t.table, queue: q.queue }); })])
        ]);
        return row;
      })));
    });
    if (!state.tasks.length) nodes.push(none('no state_tasks table in this database'));
    fill('queues', nodes);
  }

  function drawInflight(state) {
    var nodes = [];
    var select = document.querySelector('#cancel-form select');
    var chosen = select.value;
    select.replaceChildren.apply(select, state.tasks.map(function (t) {
      return el('option', { value: t.table, text: t.table });
    }));
    if (chosen) select.value = chosen;
    state.tasks.forEach(function (t) {
      if (t.error || !t.claimed.length) return;
      nodes.push(heading(t));
      nodes.push(tableOf(['task', 'queue', 'name', 'attempts', 'lease owner', 'lease expires', ''],
        t.claimed.map(function (c) {
          return el('tr', { 'class': 'claimed', 'data-id': c.id }, [
            el('td', { text: c.id }), el('td', { text: c.queue }), el('td', { text: c.name }),
            num(c.attempts), el('td', { text: c.lease_owner || '' }),
            el('td', { 'class': c.expired ? 'bad' : '', text: when(c.lease_expires_at) + (c.expired ? ' (expired)' : '') }),
            el('td', null, [button('Cancel', 'danger', function () {
              act('/api/cancel', { table: t.table, id: c.id }, 'Cancel task ' + c.id + '?');
            })])
          ]);
        })));
    });
    if (!nodes.length) nodes.push(none('no claimed task'));
    fill('inflight', nodes);
  }

  // One section of tables of one kind: a heading per table, its error, or
  // its rows (rowFn makes a <tr>), or a line saying there is none.
  function drawKind(id, list, kind, headers, rowFn, before) {
    var nodes = [];
    list.forEach(function (t) {
      nodes.push(heading(t));
      if (t.error) { nodes.push(errorLine(t)); return; }
      if (before) nodes.push(before(t));
      if (!t.rows.length) { nodes.push(none('no ' + kind)); return; }
      nodes.push(tableOf(headers, t.rows.map(function (r) { return rowFn(t, r); })));
    });
    if (!list.length) nodes.push(none('no table of ' + kind + 's'));
    fill(id, nodes);
  }

  function badge(on, onText, offText) {
    return el('span', { 'class': 'badge ' + (on ? 'running' : 'muted'), text: on ? onText : offText });
  }

  function drawDead(state) {
    drawKind('dead', state.dead_letters, 'dead letter', ['died', 'queue', 'name', 'attempts', 'reason', 'task', ''],
      function (d, r) {
        var key = d.table + '/' + r.id;
        var det = el('details', null, [el('summary', { text: r.task_id }),
          el('pre', { text: JSON.stringify(r.task, null, 2) })]);
        if (openDetails[key]) det.open = true;
        det.addEventListener('toggle', function () { openDetails[key] = det.open; });
        return el('tr', { 'class': 'dead', 'data-id': r.id, 'data-task': r.task_id }, [
          el('td', { text: when(r.died_at) }), el('td', { text: r.queue }), el('td', { text: r.name || '' }),
          num(r.attempts), el('td', { 'class': 'wrap reason', text: r.reason || '' }), el('td', null, [det]),
          el('td', null, [
            d.tasks ? button('Redrive', '', function () { act('/api/redrive', { table: d.table, id: r.id }); }) : null,
            ' ',
            button('Delete', 'danger', function () {
              act('/api/dead/delete', { table: d.table, id: r.id }, 'Delete this dead letter for good?');
            })])
        ]);
      }, function (d) {
        return d.tasks && d.rows.length ? el('p', null, [button('Redrive all into ' + d.tasks, '', function () {
          act('/api/redrive', { table: d.table }, 'Redrive every dead letter of ' + d.table + '?');
        })]) : null;
      });
  }

  function drawLeases(state) {
    drawKind('leases', state.leases, 'lease', ['name', 'owner', 'token', 'depth', 'expires', 'acquired', ''],
      function (l, r) {
        return el('tr', { 'class': 'lease', 'data-name': r.name }, [
          el('td', { text: r.name }), el('td', { text: r.owner || '' }), num(r.token), num(r.depth),
          el('td', { text: when(r.expires_at) }), el('td', { text: when(r.acquired_at) }),
          el('td', null, [badge(r.held, 'held', 'free')])
        ]);
      });
  }

  function drawFlags(state) {
    drawKind('flags', state.flags, 'flag', ['name', 'enabled', 'rollout', 'strategies', 'description', 'updated', ''],
      function (f, r) {
        return el('tr', { 'class': 'flag', 'data-name': r.name, 'data-enabled': String(r.enabled) }, [
          el('td', { text: r.name }), el('td', null, [badge(r.enabled, 'on', 'off')]),
          el('td', { 'class': 'num', text: r.rollout === null ? '' : r.rollout + ' %' }), num(r.strategies),
          el('td', { 'class': 'wrap', text: r.description || '' }), el('td', { text: when(r.updated_at) }),
          el('td', null, [button(r.enabled ? 'Turn off' : 'Turn on', '', function () {
            act('/api/flag', { table: f.table, name: r.name, enabled: !r.enabled });
          })])
        ]);
      });
  }

  function drawExecutions(state) {
    drawKind('executions', state.executions, 'execution', ['id', 'name', 'state', 'progress', 'latest progress', 'updated'],
      function (x, r) {
        var p = Array.isArray(r.progress) ? r.progress : [];
        return el('tr', { 'class': 'execution', 'data-id': r.id }, [
          el('td', { text: r.id }), el('td', { text: r.name }), el('td', { text: r.state }), num(p.length),
          el('td', { 'class': 'wrap', text: p.length ? JSON.stringify(p[p.length - 1]) : '' }),
          el('td', { text: when(r.updated_at) })
        ]);
      });
  }

  function drawTables(state) {
    fill('tables', [tableOf(['table', 'module', 'store', ''], state.tables.map(function (t) {
      return el('tr', null, [el('td', { text: t.name }), el('td', { text: t.module || '' }),
        el('td', { 'class': 'store', text: t.store || '' }), el('td', { 'class': 'error', text: t.error || '' })]);
    }))]);
  }

  var timer = null;
  function poll(now) {
    if (timer) { clearTimeout(timer); timer = null; }
    fetch('/api/state', { cache: 'no-store' }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.status); return j; });
    }).then(function (state) {
      document.getElementById('db').textContent = state.db;
      drawQueues(state); drawInflight(state); drawDead(state); drawLeases(state);
      drawFlags(state); drawExecutions(state); drawTables(state);
      var u = document.getElementById('updated');
      u.textContent = 'updated ' + when(state.now);
      u.setAttribute('data-loaded', '1');
    }).catch(function (e) {
      document.getElementById('updated').textContent = 'cannot reach the board: ' + e.message;
    }).then(function () { timer = setTimeout(poll, POLL_MS); });
  }

  document.getElementById('cancel-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var f = ev.target;
    var id = f.elements['id'].value.trim();
    act('/api/cancel', { table: f.elements['table'].value, id: id }, 'Cancel task ' + id + '?');
  });
  poll(true);
})();
