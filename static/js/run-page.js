// The run page polls itself while the run is running (hx-trigger="every 3s" in
// run_detail.html), but not while an operator has an action form open: a poll would replace
// what they type. The check is an htmx:confirm listener rather than a trigger filter
// ("every 3s [idle()]") because htmx runs filters through eval, which the
// Content-Security-Policy refuses.
document.addEventListener("htmx:confirm", function (event) {
  var live = event.detail.elt;
  if (live.id === "run-live" && live.querySelector("details.operator-action[open]")) {
    event.preventDefault();
  }
});
