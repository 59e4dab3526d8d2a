// evsearch: search as you type, "/" to search, filters folded on phones.
// Progressive enhancement: every feature here has a plain-HTML fallback (the form submits,
// links navigate), so the page works the same with JavaScript off.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  var box = document.getElementById("q");
  if (!form || !box) { return; }
  var DELAY = 250;

  // "/" focuses the search box, unless the user is typing somewhere else.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var t = event.target;
    var tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) { return; }
    event.preventDefault();
    box.focus();
    box.select();
  });

  function foldFiltersOnPhones() {
    var filters = document.getElementById("filters");
    if (filters && window.matchMedia && window.matchMedia("(max-width: 760px)").matches) {
      filters.open = false;
    }
  }
  foldFiltersOnPhones();

  // Search as you type only where the results can be replaced in place (not on document pages).
  if (!document.getElementById("results") || document.querySelector(".document")) { return; }
  var status = document.getElementById("live-status");
  var timer = null;
  var controller = null;
  var sequence = 0;
  var pushedThisBurst = false;

  function formUrl() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (String(value).trim() !== "") { params.append(name, value); }
    });
    var qs = params.toString();
    return form.getAttribute("action") + (qs ? "?" + qs : "");
  }

  function show(url, historyMode) {
    if (controller) { controller.abort(); }
    controller = window.AbortController ? new AbortController() : null;
    var mine = ++sequence;
    fetch(url, { headers: { "Accept": "text/html" }, signal: controller ? controller.signal : undefined })
      .then(function (response) { return response.text(); })
      .then(function (text) {
        if (mine !== sequence) { return; }
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var incoming = fresh.getElementById("results");
        var current = document.getElementById("results");
        if (!incoming || !current) { window.location.assign(url); return; }
        current.replaceWith(document.importNode(incoming, true));
        document.title = fresh.title;
        if (historyMode === "push") { history.pushState({ evsearch: true }, "", url); }
        else if (historyMode === "replace") { history.replaceState({ evsearch: true }, "", url); }
        foldFiltersOnPhones();
        var summary = document.getElementById("summary");
        if (status) { status.textContent = summary ? summary.textContent.replace(/\s+/g, " ").trim() : ""; }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        window.location.assign(url);  // offline or failed: let the browser show what it can
      });
  }

  box.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () {
      timer = null;
      var url = formUrl();
      if (url === window.location.pathname + window.location.search) { return; }
      // the first pause of a burst of typing makes a history entry; later ones replace it
      show(url, pushedThisBurst ? "replace" : "push");
      pushedThisBurst = true;
    }, DELAY);
  });
  box.addEventListener("blur", function () { pushedThisBurst = false; });
  form.addEventListener("submit", function () {
    if (timer) { clearTimeout(timer); timer = null; }
  });
  window.addEventListener("popstate", function () {
    var q = new URLSearchParams(window.location.search).get("q") || "";
    box.value = q;
    pushedThisBurst = false;
    show(window.location.pathname + window.location.search, null);
  });
})();
