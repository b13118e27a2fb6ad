// The console's only script: live queues and history, and canned responses.
// Everything works without it, except that pages then need a reload to show news.
"use strict";

(function () {
  var POLL_MS = 4000;

  // -- live fragments: <div data-poll="/url" data-announce="live-region-id"> ----------
  function counts(root) {
    var found = {};
    root.querySelectorAll("[data-count]").forEach(function (el) {
      found[el.id || "items"] = Number(el.getAttribute("data-count"));
    });
    return found;
  }

  function announcement(root, before, after) {
    if (root.id === "queues") {
      if ((after.waiting || 0) > (before.waiting || 0)) {
        var n = after.waiting;
        return n === 1 ? "1 conversa aguardando atendente." : n + " conversas aguardando atendente.";
      }
      return "";
    }
    if ((after.items || 0) > (before.items || 0)) {
      return "Nova mensagem no histórico.";
    }
    return "";
  }

  function refresh(root) {
    var url = root.getAttribute("data-poll");
    if (document.hidden) {
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          var here = location.pathname + location.search;
          location.assign("/console/login?next=" + encodeURIComponent(here));
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === root.getAttribute("data-last")) {
          return;
        }
        var focusedId = document.activeElement && root.contains(document.activeElement)
          ? document.activeElement.id : null;
        var before = counts(root);
        var fresh = document.createElement("template");
        fresh.innerHTML = html;
        root.replaceChildren(fresh.content);
        root.setAttribute("data-last", html);
        if (focusedId && document.getElementById(focusedId)) {
          document.getElementById(focusedId).focus();
        }
        var live = document.getElementById(root.getAttribute("data-announce") || "");
        var said = announcement(root, before, counts(root));
        if (live && said) {
          live.textContent = said;
        }
        if (root.id === "history") {
          root.scrollTop = root.scrollHeight;
        }
        if (root.id === "queues") {
          var waiting = counts(root).waiting || 0;
          document.title = document.title.replace(/^\(\d+\) /, "");
          if (waiting) {
            document.title = "(" + waiting + ") " + document.title;
          }
        }
      })
      .catch(function () { /* the next poll tries again */ });
  }

  document.querySelectorAll("[data-poll]").forEach(function (root) {
    root.setAttribute("data-last", "");
    if (root.id === "history") {
      root.scrollTop = root.scrollHeight;  // the latest messages first in view
    }
    setInterval(function () { refresh(root); }, POLL_MS);
  });

  // -- canned responses: <select data-canned-for="textarea-id"> + <button data-insert> --
  document.querySelectorAll("button[data-insert]").forEach(function (button) {
    button.addEventListener("click", function () {
      var select = document.getElementById(button.getAttribute("data-insert"));
      var target = select && document.getElementById(select.getAttribute("data-canned-for"));
      if (!target) {
        return;
      }
      var text = select.value;
      var start = target.selectionStart || 0;
      var end = target.selectionEnd || 0;
      var current = target.value;
      if (!current.trim()) {
        target.value = text;
      } else {
        target.value = current.slice(0, start) + text + current.slice(end);
      }
      target.focus();
      var caret = current.trim() ? start + text.length : text.length;
      target.setSelectionRange(caret, caret);
    });
  });
})();
