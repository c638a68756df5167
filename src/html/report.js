// Filters: vendor, API, target, verdict, tag and a search box. The state
// lives in the URL fragment (#verdict=fail&q=disk), so a link keeps a view.
(function () {
  var controls = Array.prototype.slice.call(document.querySelectorAll('[data-filter]'));
  var trials = Array.prototype.slice.call(document.querySelectorAll('details.trial'));
  var rows = Array.prototype.slice.call(document.querySelectorAll('table.matrix tr.row'));
  function state() {
    var s = {};
    controls.forEach(function (c) { s[c.getAttribute('data-filter')] = c.value.trim().toLowerCase(); });
    return s;
  }
  function matches(el, s, keys) {
    return keys.every(function (k) {
      var want = s[k];
      if (!want) return true;
      if (k === 'q') return (el.getAttribute('data-text') || '').indexOf(want) >= 0;
      if (k === 'tag') return (' ' + (el.getAttribute('data-tags') || '').toLowerCase() + ' ').indexOf(' ' + want + ' ') >= 0;
      return (el.getAttribute('data-' + k) || '').toLowerCase() === want;
    });
  }
  function apply(write) {
    var s = state(), shown = 0;
    trials.forEach(function (t) {
      var ok = matches(t, s, ['vendor', 'api', 'target', 'verdict', 'tag', 'q']);
      t.hidden = !ok;
      if (ok) shown++;
    });
    rows.forEach(function (r) { r.hidden = !matches(r, s, ['vendor', 'api', 'verdict', 'q']); });
    document.getElementById('shown').textContent = shown;
    document.getElementById('total').textContent = trials.length;
    if (write) {
      var parts = [];
      Object.keys(s).forEach(function (k) { if (s[k]) parts.push(k + '=' + encodeURIComponent(s[k])); });
      history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname);
    }
  }
  function read() {
    var h = location.hash.replace(/^#/, '');
    if (h.indexOf('=') < 0) return;
    h.split('&').forEach(function (p) {
      var kv = p.split('='), c = document.querySelector('[data-filter="' + kv[0] + '"]');
      if (!c) return;
      var v = decodeURIComponent(kv[1] || '');
      if (c.tagName === 'SELECT') {
        Array.prototype.forEach.call(c.options, function (o) { if (o.value.toLowerCase() === v.toLowerCase()) c.value = o.value; });
      } else { c.value = v; }
    });
  }
  controls.forEach(function (c) { c.addEventListener('input', function () { apply(true); }); });
  window.addEventListener('hashchange', function () { read(); apply(false); });
  read();
  apply(false);
})();
