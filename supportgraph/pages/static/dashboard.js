// The support lead's dashboard: the analytics of a chosen range of UTC days, as charts.
// Every number drawn comes from GET /v1/support/analytics. Each figure carries the numbers it
// draws in data-values (JSON) and shows them again in a table for readers without the chart.
"use strict";

(() => {
  const { el } = SG;
  const ROLE = "lead";
  const DEFAULT_DAYS = 30;
  const COLOR = {
    ai: "#1d6b3a",
    escalated: "#a1262b",
    pending: "#8a4b00",
    accent: "#0b5cad",
    second: "#6a3d9a",
  };
  const FORMAT = {
    count: (v) => String(v),
    percent: (v) => `${(v * 100).toFixed(1)}%`,
    money: (v) => SG.money(v),
    ms: (v) => `${Math.round(v)} ms`,
    score: (v) => `${v.toFixed(2)} / 5`,
  };
  const show = (format, v) => (v === null || v === undefined ? "–" : FORMAT[format](v));

  const app = document.getElementById("app");
  const notice = el("div", { id: "notice", role: "alert" });
  const view = el("div", { id: "view" });
  app.replaceChildren(notice, view);
  const charts = [];
  let latest = 0;

  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#1b1f24";
  Chart.defaults.maintainAspectRatio = false;

  const isoDay = (date) => date.toISOString().slice(0, 10);
  function addDays(day, count) {
    const date = new Date(`${day}T00:00:00Z`);
    date.setUTCDate(date.getUTCDate() + count);
    return isoDay(date);
  }

  function say(text) {
    notice.replaceChildren(text ? el("p", {}, text) : "");
  }

  async function main() {
    const signedIn =
      SG.credential(ROLE) ||
      (await SG.signIn(ROLE, view, {
        title: "Sign in as a support lead",
        demoChoices: (demo) => [{ role: "lead", subject: demo.lead, label: "Support lead" }],
      }));
    const who = document.getElementById("who");
    const signOut = el("button", { type: "button", class: "secondary" }, "Sign out");
    signOut.addEventListener("click", () => refuse(""));
    who.replaceChildren(signedIn.subject ? `${signedIn.subject} ` : "", signOut);
    dashboard();
  }

  // A credential the API refuses (a customer's, an expired one) is dropped: sign in again.
  function refuse(reason) {
    SG.forget(ROLE);
    charts.splice(0).forEach((chart) => chart.destroy());
    document.getElementById("who").replaceChildren();
    say(reason);
    main();
  }

  function dashboard() {
    const end = isoDay(new Date());
    const first = addDays(end, 1 - DEFAULT_DAYS);
    const start = el("input", { id: "start", type: "date", required: true, value: first });
    const until = el("input", { id: "end", type: "date", required: true, value: end });
    const form = el(
      "form",
      { id: "range", class: "range", "aria-label": "Date range" },
      el("span", { class: "field" }, el("label", { for: "start" }, "From"), start),
      el("span", { class: "field" }, el("label", { for: "end" }, "To"), until),
      el("button", { id: "apply", type: "submit" }, "Apply"),
      el("span", { class: "muted" }, "UTC days, both included")
    );
    const board = el("div", { id: "charts", "aria-busy": "true" });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      load(board, start.value, until.value);
    });
    view.replaceChildren(form, board);
    load(board, start.value, until.value);
  }

  async function load(board, first, last) {
    say("");
    if (!first || !last || first > last) {
      say("Choose a first day on or before the last day.");
      return;
    }
    const request = ++latest;
    board.setAttribute("aria-busy", "true");
    // The API's end is exclusive: the day after the last day chosen, at midnight UTC.
    const query = new URLSearchParams({
      start: `${first}T00:00:00Z`,
      end: `${addDays(last, 1)}T00:00:00Z`,
    });
    let figures;
    try {
      figures = await SG.api(ROLE, `/v1/support/analytics?${query}`);
    } catch (error) {
      if (request !== latest) return;
      board.setAttribute("aria-busy", "false");
      if (error instanceof SG.ApiError && (error.status === 401 || error.status === 403)) {
        refuse(
          `The dashboard needs a support lead's credential; this one was refused: ${error.message}`
        );
      } else {
        say(`The figures could not be loaded: ${error.message}`);
      }
      return;
    }
    if (request !== latest) return; // a later range was chosen meanwhile
    render(board, figures);
    Object.assign(board.dataset, { start: first, end: last });
    board.setAttribute("aria-busy", "false");
  }

  function render(board, figures) {
    charts.splice(0).forEach((chart) => chart.destroy());
    const made = specs(figures).map(figure);
    board.replaceChildren(
      headline(figures),
      el("div", { class: "grid" }, ...made.map((m) => m.node)),
      gaps(figures)
    );
    made.forEach((m) => m.draw && charts.push(m.draw()));
  }

  function headline(f) {
    const items = [
      ["total_tickets", "Tickets", show("count", f.total_tickets)],
      ["deflection_rate", "Resolved by the AI", show("percent", f.deflection_rate)],
      ["verified_resolution_rate", "Verified resolution", show("percent", f.verified_resolution_rate)],
      ["avg_csat_ai", "CSAT, AI", show("score", f.avg_csat_ai)],
      ["avg_csat_human", "CSAT, people", show("score", f.avg_csat_human)],
      ["cost_savings_usd", "Cost savings", show("money", f.cost_savings_usd)],
      ["latency_p50_ms", "Reply latency p50", show("ms", f.latency_p50_ms)],
      ["latency_p95_ms", "Reply latency p95", show("ms", f.latency_p95_ms)],
    ];
    const list = el("dl", { id: "headline" });
    for (const [name, label, text] of items) {
      list.append(el("div", {}, el("dt", {}, label), el("dd", { "data-figure": name }, text)));
    }
    return list;
  }

  // The questions the help centre could not answer: the articles to write next.
  function gaps(f) {
    const titleId = "title-knowledge-gaps";
    const section = el(
      "section",
      { id: "knowledge-gaps", "aria-labelledby": titleId },
      el("h2", { id: titleId }, "Questions the help centre could not answer"),
      el("p", {}, `${f.knowledge_gap_questions} in this range, the most asked first.`)
    );
    if (!f.knowledge_gaps.length) return section;
    const head = el(
      "tr",
      {},
      ...["Question", "Intent", "Asked", "Tickets", "Nearest article"].map((label) =>
        el("th", { scope: "col" }, label)
      )
    );
    const rows = f.knowledge_gaps.map((g) =>
      el(
        "tr",
        { "data-gap": g.question },
        el("td", {}, g.question),
        el("td", {}, g.intent),
        el("td", {}, String(g.count)),
        el("td", {}, String(g.tickets)),
        el("td", {}, g.nearest_source_id || "–")
      )
    );
    section.append(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
    return section;
  }

  // One series of a chart: the API's field name, its legend, colour, numbers and their format.
  const series = (key, label, color, data, format, more = {}) => ({
    key, label, color, data, format, ...more,
  });

  // What each chart draws, straight from the API's figures.
  function specs(f) {
    const days = f.daily.map((d) => d.date);
    const perDay = (key) => f.daily.map((d) => d[key]);
    const pct = (v) => show("percent", v);
    const [intent] = f.top_intents;
    const [reason] = f.escalation_reasons;
    return [
      {
        name: "tickets-per-day",
        title: "Tickets per day",
        summary:
          `${f.total_tickets} tickets, ${days[0]} to ${days[days.length - 1]}: ` +
          `${f.ai_resolved} resolved by the AI, ${f.escalated} escalated, ${f.pending} pending.`,
        type: "bar",
        stacked: true,
        labels: days,
        series: [
          series("ai_resolved", "AI-resolved", COLOR.ai, perDay("ai_resolved"), "count"),
          series("escalated", "Escalated", COLOR.escalated, perDay("escalated"), "count"),
          series("pending", "Pending", COLOR.pending, perDay("pending"), "count"),
        ],
      },
      {
        name: "resolution-rates",
        title: "Deflection and verified resolution",
        summary:
          `Deflection ${pct(f.deflection_rate)}; verified resolution ` +
          `${pct(f.verified_resolution_rate)} (${f.verified_resolutions} held, ` +
          `${f.verified_resolution_returned} came back, ${f.verified_resolution_pending} ` +
          `still in their ${f.verified_resolution_days}-day window).`,
        type: "line",
        labels: days,
        axis: "percent",
        series: [
          series("deflection_rate", "Deflection", COLOR.accent, perDay("deflection_rate"), "percent"),
          series("verified_resolution_rate", "Verified resolution", COLOR.ai,
            perDay("verified_resolution_rate"), "percent", { dash: true }),
        ],
      },
      {
        name: "csat",
        title: "CSAT, AI vs people",
        summary:
          `Average score: AI ${show("score", f.avg_csat_ai)}, ` +
          `people ${show("score", f.avg_csat_human)}.`,
        type: "bar",
        labels: ["AI", "Human"],
        max: 5,
        series: [
          series("csat", "Average CSAT", [COLOR.ai, COLOR.accent],
            [f.avg_csat_ai, f.avg_csat_human], "score"),
        ],
      },
      {
        name: "cost-savings",
        title: "Cost savings per day",
        summary:
          `${show("money", f.cost_savings_usd)} saved: ${show("money", f.human_cost_avoided_usd)} ` +
          `of people's time avoided, less ${show("money", f.ai_cost_usd)} of AI cost.`,
        type: "bar",
        labels: days,
        axis: "money",
        series: [series("cost_savings_usd", "Saved", COLOR.ai, perDay("cost_savings_usd"), "money")],
      },
      {
        name: "top-intents",
        title: "Top intents",
        summary: intent
          ? `Most frequent: ${intent.intent} (${intent.count} tickets, ` +
            `${pct(intent.auto_resolved_pct)} auto-resolved).`
          : "No intents in this range.",
        type: "bar",
        horizontal: true,
        labels: f.top_intents.map((i) => i.intent),
        series: [
          series("count", "Tickets", COLOR.accent, f.top_intents.map((i) => i.count), "count"),
          series("auto_resolved_pct", "Auto-resolved share", COLOR.ai,
            f.top_intents.map((i) => i.auto_resolved_pct), "percent", { axis: "share" }),
        ],
      },
      {
        name: "escalation-reasons",
        title: "Escalation reasons",
        summary: reason
          ? `${f.escalated} escalated; most by ${reason.rule_id} (${reason.count}).`
          : "No escalations in this range.",
        type: "bar",
        horizontal: true,
        labels: f.escalation_reasons.map((r) => r.rule_id),
        series: [
          series("count", "Escalated tickets", COLOR.escalated,
            f.escalation_reasons.map((r) => r.count), "count"),
        ],
      },
      {
        name: "latency",
        title: "AI reply latency",
        summary:
          `Over the range: p50 ${show("ms", f.latency_p50_ms)}, ` +
          `p95 ${show("ms", f.latency_p95_ms)}.`,
        type: "line",
        labels: days,
        axis: "ms",
        series: [
          series("latency_p50_ms", "p50", COLOR.accent, perDay("latency_p50_ms"), "ms"),
          series("latency_p95_ms", "p95", COLOR.second, perDay("latency_p95_ms"), "ms", { dash: true }),
        ],
      },
      {
        name: "cascade-tiers",
        title: "Cascade tier shares",
        summary:
          "Which tier classified the primary intents: " +
          `${f.cascade_tiers.map((t) => `${t.tier} ${pct(t.share)}`).join(", ")}.`,
        type: "bar",
        horizontal: true,
        axis: "percent",
        labels: f.cascade_tiers.map((t) => t.tier),
        series: [series("share", "Share", COLOR.accent, f.cascade_tiers.map((t) => t.share), "percent")],
      },
    ];
  }

  // One <figure>: caption, the chart (an image to assistive technology), the numbers as a table.
  function figure(spec) {
    const values = { labels: spec.labels };
    for (const s of spec.series) values[s.key] = s.data;
    const titleId = `title-${spec.name}`;
    const node = el(
      "figure",
      {
        class: "chart",
        "data-chart": spec.name,
        "data-values": JSON.stringify(values),
        "aria-labelledby": titleId,
      },
      el("figcaption", {}, el("h2", { id: titleId }, spec.title), el("p", {}, spec.summary))
    );
    if (spec.series.every((s) => s.data.every((v) => v === null || v === 0))) {
      node.append(el("p", { class: "muted" }, "Nothing to draw in this range."));
      return { node };
    }
    const canvas = el("canvas", { role: "img", "aria-label": `${spec.title}. ${spec.summary}` });
    node.append(el("div", { class: "plot" }, canvas), table(spec));
    return { node, draw: () => new Chart(canvas, config(spec)) };
  }

  function table(spec) {
    const cell = (tag, text) => el(tag, { scope: tag === "th" ? "col" : null }, text);
    const head = el("tr", {}, cell("th", ""), ...spec.series.map((s) => cell("th", s.label)));
    const rows = spec.labels.map((label, i) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, label),
        ...spec.series.map((s) => cell("td", show(s.format, s.data[i])))
      )
    );
    const numbers = el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
    return el("details", {}, el("summary", {}, "The numbers"), numbers);
  }

  // Chart.js settings: the value axis in the chart's unit, a share of a whole on its own axis.
  function config(spec) {
    const valueAxis = spec.horizontal ? "x" : "y";
    const stacked = Boolean(spec.stacked);
    const scale = { beginAtZero: true, stacked, ticks: {} };
    if (spec.axis) scale.ticks.callback = (v) => FORMAT[spec.axis](v);
    if (spec.axis === "percent") scale.max = 1;
    if (spec.max) scale.max = spec.max;
    if (spec.series.every((s) => s.axis || s.format === "count")) scale.ticks.precision = 0;
    const scales = { [valueAxis]: scale, [spec.horizontal ? "y" : "x"]: { stacked } };
    if (spec.series.some((s) => s.axis === "share")) {
      scales.share = {
        axis: valueAxis,
        position: "top",
        min: 0,
        max: 1,
        grid: { drawOnChartArea: false },
        ticks: { callback: (v) => FORMAT.percent(v) },
      };
    }
    const datasets = spec.series.map((s) => ({
      label: s.label,
      data: s.data,
      backgroundColor: s.color,
      borderColor: s.color,
      borderDash: s.dash ? [6, 4] : [],
      pointRadius: 4,
      spanGaps: true, // a day without tickets has no rate: the line goes on to the next one
      [`${valueAxis}AxisID`]: s.axis || valueAxis,
    }));
    const label = (item) =>
      `${item.dataset.label}: ${show(spec.series[item.datasetIndex].format, item.raw)}`;
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        scales,
        plugins: {
          legend: { display: spec.series.length > 1 },
          tooltip: { callbacks: { label } },
        },
      },
    };
  }

  main();
})();
