// Progressive enhancement only: every core flow works without this file.
"use strict";

(function () {
  // htmx requests carry the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { e.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
  });

  // Header search: ↑/↓ move through the live results, Enter opens, Escape closes, "/" focuses.
  function results() {
    return Array.prototype.slice.call(document.querySelectorAll("#search-results a.result"));
  }
  function move(delta) {
    var items = results();
    if (!items.length) { return; }
    var i = items.indexOf(document.activeElement);
    var next = i < 0 ? (delta > 0 ? 0 : items.length - 1) : i + delta;
    if (next < 0) {
      var input = document.getElementById("global-search");
      if (input) { input.focus(); }
      return;
    }
    items[Math.min(next, items.length - 1)].focus();
  }
  document.addEventListener("keydown", function (e) {
    var inSearch = e.target && (e.target.id === "global-search" || e.target.closest && e.target.closest("#search-results"));
    if (inSearch && e.key === "ArrowDown") { e.preventDefault(); move(1); }
    else if (inSearch && e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (inSearch && e.key === "Escape") {
      var box = document.getElementById("search-results");
      if (box) { box.innerHTML = ""; }
      var input = document.getElementById("global-search");
      if (input) { input.focus(); }
    } else if (e.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      var s = document.getElementById("global-search");
      if (s) { e.preventDefault(); s.focus(); s.select(); }
    }
  });
  // Enter in the search box opens the patient only when exactly one matches; with several
  // (or none yet) the form goes to the result list, so that nobody opens the wrong record.
  document.addEventListener("submit", function (e) {
    if (e.target.classList && e.target.classList.contains("global-search")) {
      var patients = results().filter(function (a) { return !a.classList.contains("all"); });
      if (patients.length === 1) { e.preventDefault(); window.location = patients[0].href; }
    }
  });

  // A select marked data-autosubmit applies at once (the form's button does it without JS).
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("select[data-autosubmit]") && e.target.form) {
      e.target.form.requestSubmit();
    }
  });

  // Forms that destroy something ask first.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  }, true);

  document.addEventListener("click", function (e) {
    if (e.target.hasAttribute && e.target.hasAttribute("data-print")) { window.print(); }
  });
})();
