// Enhancements only: every page works without this file.
(function () {
  "use strict";

  // A mailed link carries its single-use token in the fragment (#token=…), which browsers
  // never send to a server: move it into the form and hide the field that asks to paste it.
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  var token = document.getElementById("token");
  if (match && token) {
    token.value = decodeURIComponent(match[1]);
    var paste = document.getElementById("token-paste");
    if (paste) { paste.hidden = true; }
    history.replaceState(null, "", window.location.pathname);
  }

  // A show/hide switch beside every password field.
  var fields = document.querySelectorAll("input[type=password]");
  Array.prototype.forEach.call(fields, function (input) {
    var wrap = document.createElement("span");
    wrap.className = "reveal";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    var verb = document.createElement("span");
    var noun = document.createElement("span");
    verb.textContent = "Show";
    noun.textContent = " password";
    noun.className = "visually-hidden";
    button.appendChild(verb);
    button.appendChild(noun);
    if (input.id) { button.setAttribute("aria-controls", input.id); }
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      verb.textContent = show ? "Hide" : "Show";
    });
    wrap.appendChild(button);
  });
})();

// Live updates: the server's event stream (GET /live) names what changed; this page then
// fetches itself again and swaps the parts marked data-live, leaving alone a part the reader
// is typing in. Without script (or EventSource) a reload shows the same.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-live-stream");
  if (!url || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var status = document.getElementById("live-status");
  var count = document.getElementById("unread-count");
  var timer = null;

  function setUnread(n) {
    if (!count) { return; }
    count.hidden = !(n > 0);
    count.firstChild.nodeValue = String(n);
  }

  function busy(el) {
    var a = document.activeElement;
    // Tickets ticked for the queue's bulk form are a selection in progress too.
    if (el.querySelector("input[form=bulk]:checked")) { return true; }
    return a && a !== document.body && el.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName);
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var changed = 0;
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), function (el) {
      var name = el.getAttribute("data-live");
      var next = fresh.querySelector('[data-live="' + name + '"]');
      if (!next || busy(el) || next.innerHTML === el.innerHTML) { return; }
      el.replaceWith(document.importNode(next, true));
      changed += 1;
    });
    // Forms outside the swapped parts act on the version shown now (matched by their action).
    Array.prototype.forEach.call(document.querySelectorAll("form input[name=version]"), function (input) {
      var form = input.form;
      if (!form || form.closest("[data-live]")) { return; }
      var action = form.getAttribute("action");
      var twin = fresh.querySelector('form[action="' + action + '"] input[name=version]');
      if (twin) { input.value = twin.value; }
    });
    var unread = fresh.getElementById("unread-count");
    if (unread) { setUnread(parseInt(unread.firstChild.nodeValue, 10) || 0); }
    if (changed && status) { status.textContent = "This page was updated."; }
    document.body.setAttribute("data-live-updates", String(1 + (parseInt(document.body.getAttribute("data-live-updates"), 10) || 0)));
  }

  // A list hears of every change it may show: on a busy desk, fetch it at most once a second
  // (the first change after a quiet spell still shows at once).
  var last = 0;
  function refresh() {
    if (timer) { return; }
    var gap = ticket ? 50 : 1000;
    var wait = Math.max(50, last + gap - Date.now());
    timer = setTimeout(function () {
      timer = null;
      last = Date.now();
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.redirected && /\/sign-in/.test(r.url)) { window.location.assign(r.url); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) { if (html) { swap(html); } })
        .catch(function () { /* offline: the next change or a reload catches up */ });
    }, wait);
  }

  var shown = document.querySelector("[data-ticket]");
  var ticket = shown ? shown.getAttribute("data-ticket") : null;
  var lists = document.querySelector("[data-live]") !== null;
  var events = null;
  var opened = false;
  function listen() {
    events = new EventSource(url);
    events.addEventListener("ready", function (e) {
      document.body.setAttribute("data-live-ready", "1");
      setUnread(parseInt(e.data, 10) || 0);
      // A stream opened again (a server restart, a tab shown again) may have missed changes.
      if (opened && lists) { refresh(); }
      opened = true;
    });
    events.addEventListener("ticket", function (e) {
      var change = JSON.parse(e.data);
      if (ticket ? change.number === ticket : lists) { refresh(); }
    });
    events.addEventListener("notices", function (e) {
      setUnread(parseInt(e.data, 10) || 0);
      if (document.querySelector('[data-live="notices"]')) { refresh(); }
    });
    events.addEventListener("lagged", function () { if (lists) { refresh(); } });
    events.addEventListener("signed-out", function () {
      events.close();
      window.location.assign("/sign-in?next=" + encodeURIComponent(window.location.pathname));
    });
  }
  listen();
  // A hidden tab lets its stream go (over HTTP/1.1 a browser keeps at most six connections to
  // one server, and every open tab would hold one) and catches up when it is shown again.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && events) {
      events.close();
      events = null;
    } else if (!document.hidden && !events) {
      listen();
    }
  });
})();
