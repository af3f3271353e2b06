// Offering Keycloak Groups: the only script of the app (no inline scripts; see the CSP).
// - sends the CSRF token with every htmx request
// - shows toasts for HX-Trigger {"toast": ...} events and for failed htmx requests
// - opens fragments loaded into #dialog-body in a modal <dialog>
// - swaps 400, 409, 429 and 502 answers (forms with errors, stale previews, a sign-in that must wait, Keycloak
//   failures) instead of dropping them
(function () {
  "use strict";

  // Tells the server this browser runs our script, so slow parts of pages may load right after the page.
  document.cookie = "okg_js=1; path=/; SameSite=Lax";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function toast(message, level) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var item = document.createElement("div");
    item.className = "toast toast-" + (level || "success");
    item.textContent = message; // text, never HTML: names from Keycloak stay harmless
    region.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  document.addEventListener("toast", function (event) {
    toast(event.detail.message, event.detail.level);
  });

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var message = status === 403 || status === 404 ? "That object is gone or not yours to change."
      : status >= 500 ? "The server could not complete the request. Nothing was changed; please try again."
      : "The request was refused (HTTP " + status + ").";
    toast(message, "error");
  });

  document.addEventListener("htmx:sendError", function () {
    toast("The server could not be reached. Check your connection and try again.", "error");
  });

  // An answer that arrives after a boosted navigation replaced the page has nowhere to go: it is dropped, or its
  // out-of-band parts would look for targets that are gone. Its events fire on the detached element only (they
  // no longer bubble to the document), so the guard sits on the element that sent the request.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var sender = event.detail.elt;
    if (!sender || sender.okgLateGuard) return;
    sender.okgLateGuard = true;
    sender.addEventListener("htmx:beforeSwap", function (swap) {
      if (!sender.isConnected) swap.detail.shouldSwap = false;
    });
  });

  // Focus stays on the control that was used: hx-disabled-elt disables it during the request, which drops the
  // focus to the page; once the answer is in place it goes back there (the row acted on), unless the answer
  // moved it somewhere on purpose (a dialog, a heading).
  var usedControl = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var active = document.activeElement;
    usedControl = active && event.detail.elt && event.detail.elt.contains(active) ? active : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var lost = !document.activeElement || document.activeElement === document.body;
    if (usedControl && usedControl.isConnected && lost) usedControl.focus();
    usedControl = null;
  });

  // The dialog gives focus back to what opened it.
  var dialogOpener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.target && event.detail.target.id === "dialog-body") dialogOpener = event.detail.elt;
  });
  document.addEventListener("close", function (event) { // "close" does not bubble: listen while it descends
    if (!event.target || event.target.id !== "dialog") return;
    if (dialogOpener && dialogOpener.isConnected) dialogOpener.focus();
    dialogOpener = null;
  }, true);

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "dialog-body") {
      var dialog = document.getElementById("dialog");
      if (dialog && !dialog.open) dialog.showModal();
      var first = dialog.querySelector("select, input:not([type=hidden]), button");
      if (first) first.focus();
    }
  });

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    var dialog = document.getElementById("dialog");
    if (closer && dialog && dialog.open) {
      event.preventDefault();
      dialog.close();
    }
  });

  // Long actions: disable the submit button and say what is happening, so nothing is sent twice.
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("button[type=submit][data-loading-text]");
    if (button) {
      button.disabled = true;
      button.textContent = button.getAttribute("data-loading-text");
    }
  });

  // Plan page: the Apply button always says how many changes the ticked boxes make.
  document.addEventListener("change", function (event) {
    var form = event.target.closest("#apply-form");
    if (!form) return;
    var count = Number(form.getAttribute("data-hidden-selected") || 0);
    form.querySelectorAll('input[name^="pick:"]:checked').forEach(function (input) {
      if (input.value) count += 1;
    });
    var label = document.getElementById("apply-label");
    var button = document.getElementById("apply-button");
    var why = document.getElementById("apply-why");
    if (label) label.textContent = "Apply " + count + " change" + (count === 1 ? "" : "s");
    if (button) button.disabled = count === 0;
    if (why) why.textContent = count === 0 ? "Nothing is selected." : "";
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx) return;
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "400", swap: true },
      { code: "409", swap: true },
      { code: "429", swap: true },
      { code: "502", swap: true },
      { code: "[45]..", swap: false, error: true },
    ];
    document.querySelectorAll("#toasts .toast").forEach(function (item) {
      setTimeout(function () { item.remove(); }, 8000);
    });
  });
})();

// The Keycloak tree: the first click on a toggle loads the children (htmx); later clicks fold and unfold them
// without asking Keycloak again. aria-expanded tells screen readers which state the item is in.
document.addEventListener("htmx:beforeRequest", (event) => {
  const toggle = event.detail.elt;
  if (!toggle.classList || !toggle.classList.contains("tree-toggle")) return;
  const item = toggle.closest("li[role=treeitem]");
  const list = item && item.querySelector(":scope > ul");
  if (!item || !list || !list.childElementCount) return; // not loaded yet: let htmx fetch the children
  event.preventDefault();
  const open = item.getAttribute("aria-expanded") !== "true";
  item.setAttribute("aria-expanded", String(open));
  list.hidden = !open;
});
document.addEventListener("htmx:afterSwap", (event) => {
  const list = event.detail.target;
  if (!list.matches || !list.matches("ul.tree")) return;
  const item = list.closest("li[role=treeitem]");
  if (item) item.setAttribute("aria-expanded", "true");
  list.hidden = false;
  // A note in place of the subgroups has no role (the tree's lists own treeitems only): an error in it is said
  // in the toasts' live region, as other failed requests are.
  const error = list.querySelector(":scope > .tree-note .error");
  if (error) {
    document.dispatchEvent(new CustomEvent("toast", { detail: { message: error.textContent, level: "error" } }));
  }
});
