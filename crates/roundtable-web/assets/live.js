// Keeps a negotiation's page live: follows the change stream (Server-Sent Events of
// GET /v1/negotiations/{id}/changes, which accepts the session) and fetches the
// page's fragment again after each change. A form the user has started to fill in is
// never replaced under them: the page says it changed and offers to refresh.
(function () {
  "use strict";
  var root = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!root || !window.EventSource || !window.fetch) return;
  var id = root.getAttribute("data-negotiation");
  var after = root.getAttribute("data-version") || "0";
  var base = "/negotiations/" + encodeURIComponent(id);
  var types = ["negotiation_opened", "partner_admitted", "partner_key_registered",
    "proposal_made", "proposal_withdrawn", "proposal_endorsed", "endorsement_retracted",
    "objection_raised", "objection_withdrawn", "proposal_adopted", "commitment_made",
    "commitment_withdrawn", "agreement_signed", "negotiation_concluded"];
  var busy = false, again = false;

  function editing() {
    var a = document.activeElement;
    if (!a || !root.contains(a) || !a.form) return false;
    var els = a.form.elements;
    for (var i = 0; i < els.length; i++) {
      var e = els[i];
      if (e.type === "hidden" || e.readOnly) continue;
      if ((e.type === "checkbox" && e.checked !== e.defaultChecked) ||
          (e.value !== undefined && e.defaultValue !== undefined && e.value !== e.defaultValue)) return true;
    }
    return a.tagName === "TEXTAREA" || (a.tagName === "INPUT" && a.type !== "submit");
  }

  function refresh() {
    if (busy) { again = true; return; }
    if (editing()) {
      status.textContent = root.getAttribute("data-changed") || "";
      status.hidden = false;
      if (!status.querySelector("button")) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = status.getAttribute("data-refresh") || "Refresh";
        b.addEventListener("click", function () { status.textContent = ""; load(); });
        status.appendChild(document.createTextNode(" "));
        status.appendChild(b);
      }
      return;
    }
    load();
  }

  function load() {
    busy = true;
    fetch(base + "/live" + window.location.search, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var open = [];
        root.querySelectorAll("details[open]").forEach(function (d) { var f = d.querySelector("form"); if (f && f.id) open.push(f.id); });
        var focused = document.activeElement && document.activeElement.id;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        root.innerHTML = fresh ? fresh.innerHTML : doc.body.innerHTML;
        open.forEach(function (fid) { var f = document.getElementById(fid); if (f && f.parentElement.tagName === "DETAILS") f.parentElement.open = true; });
        if (focused) { var el = document.getElementById(focused); if (el) el.focus({ preventScroll: true }); }
        root.setAttribute("data-updated", String(Date.now()));
      })
      .catch(function () { /* the next change tries again */ })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  var source = null;
  function follow() {
    source = new EventSource("/v1/negotiations/" + encodeURIComponent(id) + "/changes?after=" + encodeURIComponent(after));
    types.forEach(function (t) {
      source.addEventListener(t, function (e) { if (e.lastEventId) after = e.lastEventId; refresh(); });
    });
  }
  // Close the stream when the page is left (or kept in the back-forward cache): a
  // browser holds only a few connections per server, and an open stream is one.
  window.addEventListener("pagehide", function () { if (source) { source.close(); source = null; } });
  window.addEventListener("pageshow", function (e) { if (e.persisted) { follow(); refresh(); } });
  follow();
})();
