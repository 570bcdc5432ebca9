/* Samsyn dashboard: what the server-rendered page gains from script, and nothing more.
 *
 * 1. Live: listens to the ledger's event stream (Server-Sent Events, each id a ledger
 *    position); after new entries it fetches this same URL again, asking the server to
 *    wait until the read models include them, and swaps in the new <main>.
 * 2. The adoption matrix: one cell open at a time, Escape closes, arrow keys move.
 * 3. The date form leaves out empty fields, so that links stay short.
 * Without it the page still shows everything; only the live updates are lost.
 */
(function () {
  "use strict";

  var body = document.body;

  /* 2. Matrix --------------------------------------------------------------------------- */

  function openCells() {
    return Array.prototype.slice.call(document.querySelectorAll(".matrix details[open]"));
  }

  document.addEventListener("toggle", function (event) {
    var opened = event.target;
    if (!opened.matches || !opened.matches(".matrix details") || !opened.open) return;
    openCells().forEach(function (d) { if (d !== opened) d.open = false; });
  }, true);

  var MOVES = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] };

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = openCells();
      if (open.length) {
        open.forEach(function (d) { d.open = false; });
        open[0].querySelector("summary").focus();
        event.preventDefault();
      }
      return;
    }
    var move = MOVES[event.key];
    var summary = event.target.closest && event.target.closest(".matrix summary");
    if (!move || !summary) return;
    var cell = summary.parentElement;
    var row = Number(cell.dataset.row) + move[0];
    var col = Number(cell.dataset.col) + move[1];
    var next = document.querySelector(
      '.matrix details[data-row="' + row + '"][data-col="' + col + '"] > summary');
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest(".matrix [data-close]");
    if (close) {
      var details = close.closest("details");
      details.open = false;
      details.querySelector("summary").focus();
      return;
    }
    if (event.target.closest && event.target.closest(".matrix details")) return;
    openCells().forEach(function (d) { d.open = false; });
  });

  /* Each open cell has a close button; it needs the script, so the script shows it. */
  function showCloseButtons(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".matrix [data-close]"),
      function (button) { button.hidden = false; });
  }
  showCloseButtons(document);

  /* 3. The date form --------------------------------------------------------------------- */

  var form = document.querySelector("form.when");
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && !el.value) el.disabled = true;
      });
    });
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (el) { el.disabled = false; });
    });
  }

  /* 1. Live ------------------------------------------------------------------------------ */

  var status = document.querySelector(".live");
  if (body.dataset.live !== "on" || !status || !("EventSource" in window)) return;

  function show(state) {
    status.dataset.state = state;
    Array.prototype.forEach.call(status.querySelectorAll("[data-when]"), function (span) {
      span.hidden = span.dataset.when !== state;
    });
  }

  function keyOf(element) {
    if (!element || element === document.body) return null;
    var cell = element.closest("details[data-key]");
    if (cell) return { cell: cell.dataset.key };
    if (element.id) return { id: element.id };
    if (element.getAttribute("href")) return { href: element.getAttribute("href") };
    return null;
  }

  function find(main, key) {
    if (!key) return null;
    if (key.cell) {
      var cells = main.querySelectorAll("details[data-key]");
      for (var i = 0; i < cells.length; i++) {
        if (cells[i].dataset.key === key.cell) return cells[i].querySelector("summary");
      }
      return null;
    }
    if (key.id) return document.getElementById(key.id);
    var links = main.querySelectorAll("a[href]");
    for (var j = 0; j < links.length; j++) {
      if (links[j].getAttribute("href") === key.href) return links[j];
    }
    return null;
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var next = fresh.querySelector("main");
    var main = document.querySelector("main");
    if (!next || !main) return;
    var open = openCells().map(function (d) { return d.dataset.key; });
    var active = document.activeElement;
    var focus = main.contains(active) ? keyOf(active) : null;
    main.replaceChildren.apply(main, Array.prototype.slice.call(next.childNodes));
    showCloseButtons(main);
    Array.prototype.forEach.call(main.querySelectorAll("details[data-key]"), function (d) {
      if (open.indexOf(d.dataset.key) >= 0) d.open = true;
    });
    var target = find(main, focus);
    if (target) target.focus({ preventScroll: true });
    body.dataset.position = fresh.body.dataset.position || body.dataset.position;
    var updated = status.querySelector('[data-when="updated"]');
    var time = new Date().toLocaleTimeString(document.documentElement.lang || undefined);
    updated.textContent = updated.dataset.template.replace("{time}", time);
    show("updated");
  }

  var latest = Number(body.dataset.position) || 0;
  var timer = null;
  var busy = false;
  var again = false;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, {
      headers: { "X-Samsyn-After": String(latest) },
      cache: "no-store",
      credentials: "same-origin",
    }).then(function (response) {
      return response.ok ? response.text().then(swap) : null;
    }).catch(function () {
      /* The next entry, or the stream's reconnection, tries again. */
    }).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }

  var source = new EventSource(body.dataset.stream + "?after=" + latest);
  source.addEventListener("open", function () {
    if (status.dataset.state !== "updated") show("live");
  });
  source.addEventListener("error", function () { show("offline"); });
  source.addEventListener("entry", function (event) {
    latest = Math.max(latest, Number(event.lastEventId) || 0);
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
})();
