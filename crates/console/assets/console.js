// sagestack console: the only script. Pages of running operations carry
// data-live="<poll URL>"; the poll answers a short fingerprint of what the page shows.
// When it changes, the page is fetched again and its <main> swapped in place (focus, what
// was typed into its fields, and scroll kept); once the new page is no longer live,
// polling stops.
(function () {
  "use strict";
  var INTERVAL_MS = 1500;
  var last = null;
  var timer = null;

  function liveUrl() {
    return document.body.getAttribute("data-live");
  }

  // The swap replaces every element of <main>: what had focus, and fields the user
  // edited, are found again in the new content (by id, else a link's href or a field's
  // name, else position) so a keyboard user keeps their place and a half-typed filter
  // is not lost.
  function keyOf(el, main) {
    var same = main.querySelectorAll(el.tagName);
    return {
      id: el.id, tag: el.tagName, href: el.getAttribute("href"), name: el.getAttribute("name"),
      index: Array.prototype.indexOf.call(same, el)
    };
  }

  function find(key, main) {
    if (key.id) { return document.getElementById(key.id); }
    var same = main.querySelectorAll(key.tag);
    for (var i = 0; i < same.length; i++) {
      if ((key.href !== null && same[i].getAttribute("href") === key.href) ||
          (key.name !== null && same[i].getAttribute("name") === key.name)) { return same[i]; }
    }
    return same[key.index] || null;
  }

  function edited(main) {
    var out = [];
    var fields = main.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      var changed = f.tagName === "SELECT"
        ? Array.prototype.some.call(f.options, function (o) { return o.selected !== o.defaultSelected; })
        : (f.type !== "file" && f.type !== "hidden" && f.value !== f.defaultValue);
      if (changed) { out.push({ key: keyOf(f, main), value: f.value }); }
    }
    return out;
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("main");
        var main = document.getElementById("main");
        if (!fresh || !main) { return; }
        var y = window.scrollY;
        var active = document.activeElement;
        var focus = active && active !== main && main.contains(active) ? keyOf(active, main) : null;
        var caret = focus && typeof active.selectionStart === "number"
          ? [active.selectionStart, active.selectionEnd] : null;
        var fields = edited(main);
        main.innerHTML = fresh.innerHTML;
        fields.forEach(function (f) {
          var el = find(f.key, main);
          if (el && main.contains(el)) { el.value = f.value; }
        });
        if (focus) {
          var again = find(focus, main);
          if (again && main.contains(again)) {
            again.focus({ preventScroll: true });
            if (caret && typeof again.setSelectionRange === "function") {
              try { again.setSelectionRange(caret[0], caret[1]); } catch (e) { /* not a text field */ }
            }
          }
        }
        window.scrollTo(0, y);
        var live = doc.body.getAttribute("data-live");
        if (live) {
          document.body.setAttribute("data-live", live);
        } else {
          document.body.removeAttribute("data-live");
          var note = document.getElementById("live-note");
          if (note) { note.textContent = "The operation finished; this page is up to date."; }
        }
      });
  }

  function tick() {
    var url = liveUrl();
    if (!url) { timer = null; return; }
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (fp) {
        if (fp === null) { return; }
        if (last !== null && fp !== last) { last = fp; return refresh(); }
        last = fp;
      })
      .catch(function () {})
      .then(function () { timer = window.setTimeout(tick, INTERVAL_MS); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (liveUrl()) { timer = window.setTimeout(tick, 0); }
    // Rows that link somewhere: Enter on a focused row follows its first link.
    document.addEventListener("keydown", function (e) {
      var row = e.target.closest && e.target.closest("tr[data-href]");
      if (row && e.key === "Enter") { window.location.href = row.getAttribute("data-href"); }
    });
  });
})();
