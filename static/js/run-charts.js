// Draws the run dashboard's charts with Chart.js from the figures the server embeds with
// json_script (id "chart-data"). The charts arrive in an HTMX partial, so drawing runs on
// htmx.onLoad for every swapped-in fragment.
(function () {
  "use strict";
  const colours = { blue: "#2456c7", green: "#1c7c45", orange: "#b36b00", grey: "#8a93a3" };

  function bars(labels, series, unit, horizontal) {
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: series.map(([label, data, colour]) => ({ label, data, backgroundColor: colour })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        scales: { [horizontal ? "x" : "y"]: { beginAtZero: true, title: { display: true, text: unit } } },
      },
    };
  }

  const builders = {
    perDay: (d) => ({
      type: "line",
      data: {
        labels: d.labels,
        datasets: [
          { label: "Started", data: d.started, borderColor: colours.blue, backgroundColor: colours.blue, tension: 0.2 },
          { label: "Completed", data: d.completed, borderColor: colours.green, backgroundColor: colours.green, tension: 0.2 },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "runs" } } },
      },
    }),
    cycleTimes: (d) => bars(d.labels, [["Median", d.median, colours.blue], ["90th percentile", d.p90, colours.orange]], d.unit, false),
    stageDurations: (d) => bars(d.labels, [["Mean", d.mean, colours.blue], ["90th percentile", d.p90, colours.orange]], d.unit, true),
    longestWaits: (d) => bars(d.labels, [["Mean", d.mean, colours.blue], ["90th percentile", d.p90, colours.orange]], d.unit, true),
  };

  function draw(root) {
    const source = root.querySelector ? root.querySelector("#chart-data") : null;
    if (!source || typeof Chart === "undefined") return;
    const figures = JSON.parse(source.textContent);
    root.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const name = canvas.dataset.chart;
      if (!builders[name] || canvas.dataset.drawn) return;
      const config = builders[name](figures[name]);
      if (config.options.indexAxis === "y") {
        canvas.parentElement.style.height = Math.max(12, 2.2 * config.data.labels.length + 4) + "rem";
      }
      canvas.dataset.drawn = "yes";
      new Chart(canvas, config);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    draw(document);
    if (window.htmx) window.htmx.onLoad(draw);
  });
})();
