// The run page polls itself while the run is running (hx-trigger in run_detail.html), but
// not while an operator has an action form open: a poll would replace what they type.
window.runPageIdle = function () {
  return !document.querySelector("#run-live details.operator-action[open]");
};
