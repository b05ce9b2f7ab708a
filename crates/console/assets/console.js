// sagestack console: the only script. Pages of running operations carry
// data-live="<poll URL>"; the poll answers a short fingerprint of what the page shows.
// When it changes, the page is fetched again and its <main> swapped in place (focus and
// scroll kept); once the new page is no longer live, polling stops.
(function () {
  "use strict";
  var INTERVAL_MS = 1500;
  var last = null;
  var timer = null;

  function liveUrl() {
    return document.body.getAttribute("data-live");
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
        main.innerHTML = fresh.innerHTML;
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
