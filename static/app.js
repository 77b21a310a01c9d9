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
  // The visit form saves itself: a second after typing stops, and every 15 s while changes
  // wait. What is typed is also kept on this device (localStorage) until the server has it,
  // so a lost connection or a closed tab loses nothing; a newer save elsewhere (another tab)
  // is reported instead of overwritten.
  function autosave(form) {
    var id = form.getAttribute("data-autosave");
    var key = "clinicbox-visit-" + id;
    var fields = ["complaint", "history", "examination", "assessment", "plan", "follow_up_on"];
    // The visit template's fields (`tf.<key>`) are saved and kept with the note.
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.name.indexOf("tf.") === 0) { fields.push(el.name); }
    });
    var status = document.getElementById("autosave-status");
    var version = form.querySelector('input[name="version"]');
    var timer = null, busy = false, dirty = false, stopped = false;
    function say(key) {
      if (status) { status.textContent = status.getAttribute("data-" + key) || ""; }
    }
    function values() {
      var v = {};
      fields.forEach(function (f) { var el = form.elements[f]; if (el) { v[f] = el.value; } });
      return v;
    }
    function keep() {
      try { localStorage.setItem(key, JSON.stringify({ base: version.value, fields: values() })); } catch (e) { /* full or off */ }
    }
    function forget() { try { localStorage.removeItem(key); } catch (e) { /* off */ } }
    function send() {
      if (busy || stopped || !dirty) { return; }
      busy = true; dirty = false;
      var body = new URLSearchParams();
      body.set("_csrf", form.elements["_csrf"].value);
      body.set("version", version.value);
      var v = values();
      Object.keys(v).forEach(function (k) { body.set(k, v[k]); });
      fetch(form.action, { method: "POST", body: body, credentials: "same-origin",
                           headers: { "X-Autosave": "1", "X-CSRF-Token": form.elements["_csrf"].value } })
        .then(function (r) {
          return r.json().then(function (j) { return { status: r.status, json: j }; });
        })
        .then(function (res) {
          busy = false;
          if (res.status === 200) {
            version.value = res.json.version;
            if (!dirty) { forget(); }
            say("saved");
          } else if (res.status === 409) {
            stopped = true; keep(); say("conflict");
          } else {
            dirty = true; say("invalid");
          }
        })
        .catch(function () { busy = false; dirty = true; keep(); say("offline"); });
    }
    form.addEventListener("input", function (e) {
      if (fields.indexOf(e.target.name) < 0) { return; }
      dirty = true; keep();
      clearTimeout(timer);
      timer = setTimeout(send, 1000);
    });
    setInterval(function () { if (dirty) { send(); } }, 15000);
    // Buttons submit the whole form (and the note with it): nothing to keep afterwards.
    form.addEventListener("submit", function () { forget(); });
    // Text typed here that never reached the server comes back, if the visit was not saved
    // since (otherwise it is left for the person to compare: their tab may be the older one).
    try {
      var kept = JSON.parse(localStorage.getItem(key) || "null");
      if (kept && kept.base === version.value) {
        var changed = false;
        Object.keys(kept.fields).forEach(function (f) {
          var el = form.elements[f];
          if (el && el.value !== kept.fields[f]) { el.value = kept.fields[f]; changed = true; }
        });
        if (changed) { dirty = true; say("restored"); send(); } else { forget(); }
      }
    } catch (e) { /* off */ }
  }
  document.querySelectorAll("form[data-autosave]").forEach(autosave);

  // Enter in the diagnosis search searches (instead of saving the visit).
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target && e.target.id === "dx-q") {
      e.preventDefault();
      var b = document.getElementById("dx-search");
      if (b) { b.click(); }
    }
  });
  // A button marked data-confirm-click asks first (signing a visit).
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-confirm-click]");
    if (b && !window.confirm(b.getAttribute("data-confirm-click"))) { e.preventDefault(); }
  });
})();
