// The smac-bridge dashboard: polls the server's JSON endpoints and draws what they say.
// Every number comes from the server (the same readers as `status` and `results`); this file
// only lays it out: the Tabulator table of runs, Chart.js plots, the log of one run.
"use strict";

(() => {
  const POLL_MS = 1500;
  const PROGRESS_MS = 5000;
  const LOG_KEEP = 1 << 20; // characters of a log kept on the page
  const COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
  ];
  const STATUS_COLOURS = { UNSAT: "#9a6700", TIMEOUT: "#8250df", CRASHED: "#b3261e" };
  // beyond the colours, workers' curves share one style and one legend entry, as in `plot`
  const MANY_WORKERS = COLOURS.length;
  const token = new URLSearchParams(location.search).get("token");

  const state = {
    group: null, // the rungroup shown
    run: null, // the run whose log is shown
    follow: true, // show the newest running run's log
    log: { run: null, file: null, next: null, head: "", raw: "" },
    stopping: new Set(), // "group/run" of runs asked to stop
    table: null,
    tableColumns: null,
    chartsKey: null,
    progressKey: null,
    progressAt: 0,
    tableRows: null, // which rows the table holds, in which state
    waited: 0, // ms this look waited for the server's answers
  };

  const $ = (id) => document.getElementById(id);
  const q = encodeURIComponent;

  async function api(path, options = {}) {
    const headers = { ...(options.headers || {}) };
    if (token) headers["X-Token"] = token;
    const asked = Date.now();
    const response = await fetch(path, { ...options, headers, cache: "no-store" });
    const body = await response.json().catch(() => ({}));
    state.waited += Date.now() - asked;
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  // ---- formatting ---------------------------------------------------------------------------

  function num(x) {
    if (x === null || x === undefined) return "";
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x)) return String(x);
    return String(Number(x.toPrecision(6)));
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600),
      m = Math.floor(s / 60) % 60,
      r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
  }

  const configText = (config) =>
    Object.entries(config || {})
      .map(([k, v]) => `${k}=${num(v)}`)
      .join(" ");
  const statusText = (row) => row.label; // (stopped), (pruned), (promoted from ...)

  function qualityText(row) {
    if (row.kind === "ok") return num(row.quality);
    if (row.kind === "partial")
      return `${num(row.quality)} (${row.par_k ? "PAR-k cost" : "partial"})`;
    if (row.kind === "failed") return "no quality";
    return "";
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "className") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function notice(text, isError = false) {
    const box = $("notice");
    box.hidden = !text;
    box.textContent = text || "";
    box.classList.toggle("error", isError);
  }

  // ---- rungroups and workers ----------------------------------------------------------------

  // Parts with buttons are redrawn only when they change: a button replaced between the press
  // and the release of the mouse would lose the click.
  function changed(node, data) {
    const key = JSON.stringify(data);
    if (node.dataset.key === key) return false;
    node.dataset.key = key;
    return true;
  }

  function renderGroups(picture) {
    $("outdir").textContent = picture.outdir;
    const nav = $("groups");
    const shown = picture.rungroups.map((g) => [
      g.rungroup,
      g.active,
      g.runs_done,
      g.budget,
      g.best,
      g.run_obj,
    ]);
    if (!changed(nav, [shown, state.group, picture.outdir_exists])) return;
    nav.replaceChildren();
    if (!picture.rungroups.length) {
      nav.append(
        el(
          "p",
          { className: "muted" },
          picture.outdir_exists
            ? "No rungroup here yet: it appears once a launch writes into this folder."
            : "This folder does not exist yet: its rungroups appear once a launch makes it. " +
                "If no launch will, check the path given to the dashboard.",
        ),
      );
      return;
    }
    for (const g of picture.rungroups) {
      const runtime = g.run_obj === "runtime"; // SMAC minimised the cost; a solver's quality is 0
      const value = runtime ? `cost ${num(g.best?.cost)}` : num(g.best?.quality);
      const best = g.best ? `best ${value} (run ${g.best.run_id})` : "no finished run yet";
      const button = el(
        "button",
        {
          className: g.rungroup === state.group ? "selected" : "",
          dataset: { group: g.rungroup },
          onclick: () => {
            selectGroup(g.rungroup);
            tick();
          },
        },
        el("div", { className: "name" }, g.rungroup),
        el(
          "div",
          {},
          `${g.active ? "running" : "not running"}: ${g.runs_done_text}`,
        ),
        el("div", { className: "muted" }, best),
      );
      nav.append(button);
    }
  }

  function selectGroup(name) {
    if (name === state.group) return;
    state.group = name;
    if (name !== null) history.replaceState(null, "", `#group=${q(name)}`); // a reload keeps it
    state.run = null;
    state.follow = true;
    $("follow").checked = true;
    state.chartsKey = state.progressKey = state.tableRows = null;
    notice(""); // what it said was about the rungroup on screen before
    resetLog();
  }

  // a run in a cluster's queue can be stopped too: it ends as it begins
  function stoppable(run) {
    return run.state === "running" || run.state === "queued";
  }

  function stopButton(run) {
    const key = `${state.group}/${run.run_id}`;
    const asked = state.stopping.has(key);
    return el(
      "button",
      {
        className: "stop",
        dataset: { run: run.run_id },
        title: "end this trial early, as `smac-bridge stop` does",
        ...(asked ? { disabled: "" } : {}),
        onclick: (event) => {
          event.stopPropagation();
          stopRun(run.run_id);
        },
      },
      asked ? "stopping…" : "stop",
    );
  }

  function renderWorkers(g) {
    // status's own line (monitor.summary_text)
    $("summary").textContent =
      `${g.rungroup} (${g.active ? "running" : "not running"}): ${g.summary}` +
      (g.skipped_text ? `. Warning: ${g.skipped_text}` : "");
    const runs = new Map([...g.running, ...g.lost].map((r) => [r.run_id, r]));
    const body = $("workers").querySelector("tbody");
    const still = [...runs.values()].map((r) => [r.run_id, r.state, r.worker, r.config]);
    if (changed(body, [g.workers, still, [...state.stopping]])) drawWorkers(body, g.workers, runs);
    for (const cell of body.querySelectorAll("td[data-elapsed]")) {
      cell.textContent = duration(runs.get(cell.dataset.elapsed)?.elapsed);
    }
    drawFailures(g);
  }

  // one line per worker with its current run, then running or lost runs no worker names
  function drawWorkers(body, workers, runs) {
    body.replaceChildren();
    const shown = new Set();
    const line = (worker, stateText, run, runsDone, learnt) => {
      if (run) shown.add(run.run_id);
      const bad = stateText === "lost" || stateText === "failed";
      body.append(
        el(
          "tr",
          { className: bad ? "lost" : "" },
          el("td", {}, String(worker ?? "")),
          el("td", {}, stateText),
          el("td", {}, run ? run.run_id + (run.state !== "running" ? ` (${run.state})` : "") : ""),
          el("td", run ? { dataset: { elapsed: run.run_id } } : {}),
          el("td", {}, runsDone),
          el("td", {}, learnt),
          el("td", {}, run ? configText(run.config) : ""),
          el("td", {}, run && stoppable(run) ? stopButton(run) : ""),
        ),
      );
    };
    for (const w of workers) {
      line(
        w.seed,
        w.state,
        w.current_run ? runs.get(String(w.current_run)) : null,
        String(w.runs_done ?? ""),
        String(w.foreign_runs_told ?? 0),
      );
    }
    for (const [id, run] of runs) if (!shown.has(id)) line(run.worker, run.state, run, "", "");
  }

  function drawFailures(g) {
    const failures = $("failures");
    failures.hidden = !g.failures.length;
    failures
      .querySelector("tbody")
      .replaceChildren(
        ...g.failures.map((f) =>
          el(
            "tr",
            {},
            el("td", {}, f.run_id),
            el("td", {}, String(f.worker)),
            el("td", {}, f.status),
            el("td", {}, f.reason),
          ),
        ),
      );
    const aborted = g.aborted_text
      ? [el("p", { className: "error" }, String(g.aborted_text).slice(0, 600))]
      : [];
    $("worker-errors").replaceChildren(
      ...aborted,
      ...g.workers
        .filter((w) => (w.state === "failed" || w.state === "lost") && w.message)
        .map((w) =>
          el(
            "p",
            { className: "error" },
            `worker ${w.seed} ${w.state}: ${String(w.message).trim().split("\n").pop().slice(0, 300)}`,
          ),
        ),
    );
  }

  async function stopRun(runId) {
    const group = state.group;
    if (!window.confirm(`Stop run ${runId} of ${group}? The optimisation goes on.`)) return;
    try {
      const answer = await api("api/stop", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ group, run: runId }),
      });
      state.stopping.add(`${group}/${runId}`);
      notice(
        `Asked run ${runId} to stop: its wrapper ends it and records it ` +
          `(within about ${Math.round(answer.wait)} s).`,
      );
    } catch (error) {
      notice(`Could not stop run ${runId} of ${group}: ${error.message}`, true);
    }
    tick();
  }

  // ---- the table of runs --------------------------------------------------------------------

  function qualitySorter(a, b, aRow, bRow, column, dir) {
    // as in `results`: the highest budget first (a quality after one epoch is no trained
    // model), then finished runs, partial qualities and failed runs, each by quality (a
    // failed run's is its recorded failure quality); running runs last. Descending turns
    // the groups and the qualities round, as `results --sort -quality` does, but not the
    // budgets nor the running runs: Tabulator turns every answer round, so those are
    // answered turned round already
    const groups = { ok: 0, partial: 1, failed: 2 };
    const key = (row) => {
      const d = row.getData();
      const group = groups[d.kind] ?? 3;
      const quality = d.quality ?? d.recorded_quality ?? Infinity;
      return [group === 3 ? 1 : 0, -(d.budget ?? Infinity), group, quality];
    };
    const [x, y] = [key(aRow), key(bRow)];
    const differs = x.findIndex((value, i) => value !== y[i]);
    if (differs < 0) return 0;
    const order = x[differs] < y[differs] ? -1 : 1;
    return dir === "desc" && differs < 2 ? -order : order;
  }

  const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/; // results._DECIMAL

  function parameterSorter(order) {
    // as `results --sort` orders a parameter (results.sort_runs): an ordinal in its declared
    // ORDER, else numbers (also text that is one: a categorical's {16, 32, 128}) before
    // text, text by the alphabet; these groups, and runs without the value (inactive) last,
    // in this order in either direction
    const rank = new Map((order || []).map((value, i) => [String(value), i]));
    const key = (value) => {
      if (rank.has(String(value))) return [0, rank.get(String(value))];
      const number = typeof value === "number" || DECIMAL.test(value);
      return [(number ? 0 : 1) + (rank.size ? 1 : 0), number ? Number(value) : String(value)];
    };
    const blank = (value) => value === null || value === undefined || value === "";
    return (a, b, aRow, bRow, column, dir) => {
      const kept = dir === "desc" ? -1 : 1; // Tabulator turns the order round for desc
      if (blank(a) || blank(b)) return blank(a) === blank(b) ? 0 : blank(a) ? kept : -kept;
      const [[gx, x], [gy, y]] = [key(a), key(b)];
      if (gx !== gy) return (gx - gy) * kept;
      return x === y ? 0 : x < y ? -1 : 1;
    };
  }

  // a filter finds what the cell shows (0.641495), not only the value behind it (0.64149485...)
  const shownFilter = (typed, value) =>
    num(value).toLowerCase().includes(String(typed).toLowerCase());

  function tableColumns(parameters, testError, budgets, result) {
    // a formatter's string would be HTML: values a script wrote are only ever text nodes
    const text = (format) => (cell) => document.createTextNode(format(cell.getValue()));
    const columns = [
      {
        title: "run",
        field: "run_id",
        headerFilter: "input",
        // by number, as `results` orders them: 100000 after 99999, not before 00007
        sorter: (a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0),
      },
      { title: "worker", field: "worker", headerFilter: "input", sorter: "number" },
      {
        title: "status",
        field: "status_text",
        headerFilter: "input",
        minWidth: 150, // "TIMEOUT (stopped)": widths follow the rows the table was built with
        maxWidth: 260, // "SAT (promoted from 00012)"
        formatter: (cell) => {
          const row = cell.getRow().getData();
          if (row.kind === "failed") cell.getElement().classList.add("status-failed");
          if (row.kind === "partial") cell.getElement().classList.add("status-partial");
          return document.createTextNode(cell.getValue());
        },
      },
      {
        title: result, // "cost" for a runtime objective: what SMAC minimised
        field: "quality_text",
        sorter: qualitySorter,
        headerFilter: "input",
        minWidth: 120,
        hozAlign: "right",
        formatter: (cell) => {
          const row = cell.getRow().getData();
          if (row.kind) cell.getElement().classList.add(`quality-${row.kind}`);
          return document.createTextNode(cell.getValue());
        },
      },
    ];
    if (budgets) {
      // multi-fidelity: a quality after 1 epoch is no match for one after 27
      columns.splice(3, 0, {
        title: "budget",
        field: "budget",
        sorter: "number",
        hozAlign: "right",
        formatter: text(num),
      });
    }
    if (testError) {
      columns.push({
        title: "test error",
        field: "test_error",
        sorter: "number",
        hozAlign: "right",
        formatter: text(num),
      });
    }
    columns.push(
      {
        title: "duration",
        field: "duration",
        sorter: "number",
        hozAlign: "right",
        formatter: text(duration),
      },
      {
        title: "reason",
        field: "reason",
        headerFilter: "input",
        formatter: text(String),
        // the whole reason when it is cut, as text: Tabulator takes a string as HTML
        tooltip: (event, cell) => {
          const tip = document.createElement("div");
          tip.textContent = String(cell.getValue() ?? "");
          return tip;
        },
        minWidth: 220,
        maxWidth: 420,
      },
    );
    if (parameters.length) {
      // Tabulator cannot build an empty column group
      columns.push({
        title: "configuration",
        columns: parameters.map((p, i) => ({
          title: p.name,
          titleFormatter: (cell) => document.createTextNode(cell.getValue()), // not HTML
          field: `p${i}`,
          headerFilter: "input",
          headerFilterFunc: shownFilter,
          hozAlign: "right",
          sorter: parameterSorter(p.order),
          formatter: text(num),
        })),
      });
    }
    columns.push({
      title: "",
      field: "stop",
      headerSort: false,
      formatter: (cell) => {
        const row = cell.getRow().getData();
        return stoppable(row) ? stopButton(row) : "";
      },
    });
    columns.forEach((c) => {
      if (!c.formatter && !c.columns) c.formatter = text(num);
    });
    return columns;
  }

  function tableRows(data) {
    return data.rows.map((row) => {
      const flat = {
        ...row,
        key: row.run_id,
        status_text: statusText(row),
        quality_text: qualityText(row),
        stop: stoppable(row) ? row.run_id : "", // the stop button's cell
      };
      data.parameters.forEach((p, i) => {
        flat[`p${i}`] = row.config[p.name];
      });
      return flat;
    });
  }

  function markRow(row) {
    const data = row.getData();
    const element = row.getElement();
    element.dataset.run = data.run_id;
    element.dataset.state = data.state;
    element.classList.toggle("best", data.best);
    element.classList.toggle("running", data.state === "running");
    element.classList.toggle("lost", data.state === "lost");
    element.classList.toggle("selected-run", data.run_id === state.run);
  }

  async function renderRuns(data) {
    const columnsKey = JSON.stringify([
      data.parameters.map((p) => p.name),
      data.test_error,
      data.budgets,
      data.result_label,
    ]);
    if (state.tableColumns !== columnsKey) {
      if (state.table) state.table.destroy();
      state.tableColumns = columnsKey;
      state.tableRows = null;
      state.rowTexts = new Map();
      state.table = new Tabulator("#runs", {
        index: "key",
        layout: "fitDataStretch",
        maxHeight: "60vh",
        renderVertical: "virtual", // only the rows in view are drawn: thousands of runs
        renderHorizontal: "virtual", // and only the columns: a hundred parameters took 10 s
        placeholder: "no run has started yet",
        columns: tableColumns(data.parameters, data.test_error, data.budgets, data.result_label),
        initialSort: [{ column: "quality_text", dir: "asc" }],
        rowFormatter: markRow,
      });
      const built = new Promise((resolve) => state.table.on("tableBuilt", resolve));
      const late = new Promise((resolve) => setTimeout(resolve, 10000, "late"));
      if ((await Promise.race([built, late])) === "late") {
        state.tableColumns = null; // build it again at the next refresh
        throw new Error("the table of runs could not be built");
      }
      state.table.on("rowClick", (event, row) => selectRun(row.getData().run_id));
      state.table.on("dataFiltered", (filters, rows) => showCount(rows.length)); // as one types
    }
    const rows = tableRows(data);
    const asked = (r) => state.stopping.has(`${state.group}/${r.run_id}`);
    const held = rows.map((r) => `${r.key}:${r.state}:${r.status}:${asked(r)}`).join();
    const texts = new Map(rows.map((r) => [r.key, JSON.stringify(r)]));
    if (held === state.tableRows) {
      // durations only, and only the rows that changed: a table of thousands stays quick
      const changed = rows.filter((r) => state.rowTexts.get(r.key) !== texts.get(r.key));
      if (changed.length) await state.table.updateData(changed);
    } else {
      await state.table.replaceData(rows); // keeps the user's sort, filters and scroll
      state.tableRows = held;
    }
    state.rowTexts = texts;
    showCount(state.table.getDataCount("active"));
  }

  function showCount(shown) {
    const all = state.table.getDataCount();
    $("runs-count").textContent = shown === all ? `(${all})` : `(${shown} of ${all} shown)`;
  }

  // ---- the log of one run -------------------------------------------------------------------

  function selectRun(runId) {
    state.follow = false;
    $("follow").checked = false;
    state.run = runId;
    state.table?.getRows("visible").forEach(markRow);
    refreshLog();
  }

  function newestRun(rows) {
    const running = rows.filter((r) => r.state === "running");
    const pool = running.length ? running : rows;
    return (
      pool.reduce((a, b) => ((b.started ?? 0) > (a?.started ?? -1) ? b : a), null)?.run_id ?? null
    );
  }

  // What a terminal shows of a log: colour and cursor codes dropped, a line rewritten after
  // a \r (a progress bar) as its last state, a character a \b erased gone.
  function asShown(raw) {
    return raw
      .replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]/g, "")
      .split("\n")
      .map((line) => {
        let shown = line.replace(/\r+$/, "");
        shown = shown.slice(shown.lastIndexOf("\r") + 1);
        while (/[^\x08]\x08/.test(shown)) shown = shown.replace(/[^\x08]\x08/g, "");
        return shown.replaceAll("\x08", "");
      })
      .join("\n");
  }

  function resetLog() {
    state.log = { run: null, file: null, next: null, head: "", raw: "" };
    $("log").textContent = "";
    $("log-run").textContent = "–";
    $("log-state").textContent = "";
  }

  let logBusy = null;

  function refreshLog() {
    // one request at a time, or two could append the same bytes
    logBusy ??= readLog().finally(() => {
      logBusy = null;
      if (state.log.run !== state.run) refreshLog();
    });
    return logBusy;
  }

  async function readLog() {
    if (!state.group || !state.run) return;
    const pre = $("log");
    if (state.log.run !== state.run) {
      resetLog();
      state.log.run = state.run;
    }
    for (let rounds = 0; rounds < 8; rounds += 1) {
      // catch up in chunks, then wait
      const { run, file, next } = state.log;
      let params = `group=${q(state.group)}&run=${q(run)}`;
      if (file !== null) params += `&file=${q(file)}&offset=${next}`;
      const chunk = await api(`api/log?${params}`);
      if (state.log.run !== run) return; // another run was chosen meanwhile
      const log = state.log;
      const restart = chunk.file !== file || chunk.offset !== next;
      if (restart) {
        log.head = chunk.offset > 0 ? `[… the first ${chunk.offset} bytes are not shown]\n` : "";
        log.raw = "";
      }
      const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
      // kept as written, so that a \r or a colour code split between two chunks still acts
      if (chunk.text) log.raw = (log.raw + chunk.text).slice(-LOG_KEEP);
      if (chunk.text || restart) pre.textContent = log.head + asShown(log.raw);
      if (!log.raw && !chunk.size && !chunk.running) pre.textContent = "(this run wrote no output)";
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      state.log.file = chunk.file;
      state.log.next = chunk.next;
      $("log-run").textContent = run;
      $("log-state").textContent = `${chunk.file}, ${chunk.running ? "running" : "ended"}`;
      pre.dataset.run = run;
      pre.dataset.running = String(chunk.running);
      if (chunk.next >= chunk.size || !chunk.text) break;
    }
  }

  // ---- plots --------------------------------------------------------------------------------

  // Ticks of a log axis: powers of ten, or 1, 2 and 5 of each decade when fewer than two
  // powers of ten fall in the range; powers of two for whole numbers (layer sizes, units).
  function logTickValues(min, max, integer) {
    const base = integer ? 2 : 10;
    const values = [];
    for (let e = Math.floor(Math.log(min) / Math.log(base)); base ** e <= max; e += 1) {
      for (const m of integer ? [1] : [1, 2, 5]) {
        const value = Number((m * base ** e).toPrecision(12));
        if (value >= min && value <= max) values.push(value);
      }
    }
    const decades = values.filter((v) => Number.isInteger(Math.log10(v)));
    return !integer && decades.length >= 2 ? decades : values;
  }

  function logAxis(integer = false) {
    return {
      type: "logarithmic",
      afterBuildTicks: (scale) => {
        scale.ticks = logTickValues(scale.min, scale.max, integer).map((value) => ({ value }));
      },
      ticks: { callback: (value) => num(value) },
    };
  }

  const spansDecades = (values) => {
    const v = values.filter((x) => x !== null && x !== undefined);
    return v.length > 0 && Math.min(...v) > 0 && Math.max(...v) / Math.min(...v) > 100;
  };

  function chart(canvas, config) {
    Chart.getChart(canvas)?.destroy();
    config.options = {
      animation: false,
      maintainAspectRatio: false,
      onClick: (event, elements, chartObject) => {
        const hit = elements[0];
        const point = hit && chartObject.data.datasets[hit.datasetIndex].data[hit.index];
        if (point && point.run) selectRun(point.run);
      },
      ...config.options,
    };
    return new Chart(canvas, config);
  }

  function tooltipLabel(context) {
    const p = context.raw;
    return p.label || `${context.dataset.label}: ${num(p.y)}`;
  }

  function bestCharts(curves, defaultQuality, result) {
    const all = [...curves.rungroup, ...Object.values(curves.workers).flat()];
    const span = Math.max(0, ...all.map((p) => p.time));
    const [unit, scale] = span > 600 ? ["min", 60] : ["s", 1];
    const values = all.map((p) => p.quality).concat(defaultQuality ?? []);
    for (const [canvas, x, title, over] of [
      [
        "best-time",
        (p) => p.time / scale,
        `wall time since the first run started (${unit})`,
        "wall time",
      ],
      ["best-runs", (p) => p.runs, "runs finished (of the worker, or of the rungroup)", "runs"],
    ]) {
      $(canvas).closest("figure").querySelector("figcaption").textContent =
        `Best ${result} over ${over}`; // a runtime objective's is the cost
      const series = (points) =>
        points.map((p) => ({
          x: x(p),
          y: p.quality,
          run: p.run_id,
          label: `best ${num(p.quality)} (run ${p.run_id})`,
        }));
      const datasets = [
        {
          label: "rungroup",
          data: series(curves.rungroup),
          showLine: true,
          stepped: true,
          borderColor: "rgba(0,0,0,0.35)",
          backgroundColor: "rgba(0,0,0,0.35)",
          borderWidth: 5,
          pointRadius: 0,
        },
      ];
      const workers = Object.entries(curves.workers);
      const many = workers.length > MANY_WORKERS;
      workers.forEach(([seed, points], i) => {
        if (!points.length) return; // no successful run of that worker yet: no line to explain
        const colour = many ? "rgba(31,119,180,0.5)" : COLOURS[i];
        datasets.push({
          label: many ? `each of the ${workers.length} workers` : `worker ${seed}`,
          data: series(points),
          showLine: true,
          stepped: true,
          borderColor: colour,
          backgroundColor: colour,
          borderWidth: many ? 1 : 1.5,
          pointRadius: many ? 0 : 2,
        });
      });
      if (defaultQuality !== null && defaultQuality !== undefined && curves.rungroup.length) {
        const xs = datasets.flatMap((d) => d.data.map((p) => p.x));
        datasets.push({
          label: "default configuration",
          showLine: true,
          borderDash: [6, 4],
          pointRadius: 0,
          borderColor: "gray",
          borderWidth: 1,
          data: [Math.min(...xs), Math.max(...xs)].map((v) => ({
            x: v,
            y: defaultQuality,
            label: `default configuration ${num(defaultQuality)}`,
          })),
        });
      }
      chart($(canvas), {
        type: "scatter",
        data: { datasets },
        options: {
          scales: {
            x: {
              title: { display: true, text: title },
              ticks: canvas === "best-runs" ? { precision: 0 } : {},
            },
            y: {
              ...(spansDecades(values) ? logAxis() : { type: "linear" }),
              title: { display: true, text: `best ${result} so far (lower is better)` },
            },
          },
          plugins: {
            tooltip: { callbacks: { label: tooltipLabel } },
            legend: { labels: { filter: firstOfItsLabel }, onClick: toggleItsLabel },
          },
        },
      });
    }
  }

  // one legend entry for the datasets that share a label (many workers' curves)
  const firstOfItsLabel = (item, data) =>
    data.datasets.findIndex((d) => d.label === item.text) === item.datasetIndex;

  function toggleItsLabel(event, item, legend) {
    const shown = legend.chart;
    const hide = !item.hidden;
    shown.data.datasets.forEach((d, i) => {
      if (d.label === item.text) shown.getDatasetMeta(i).hidden = hide;
    });
    shown.update();
  }

  // a failure's row in the band: its whole reason is in the tooltip
  const shortLabel = (label) => (label.length > 34 ? `${label.slice(0, 33)}…` : label);

  function labelWidth(labels, size) {
    const context = document.createElement("canvas").getContext("2d");
    context.font = `${size}px ${Chart.defaults.font.family}`;
    return Math.max(...labels.map((label) => context.measureText(label).width));
  }

  function xScale(parameter) {
    const axis = parameter.axis;
    const title = { display: true, text: parameter.name + (axis.log ? " (log scale)" : "") };
    if (axis.categories.length) {
      return {
        title,
        type: "linear",
        min: -0.5,
        max: axis.categories.length - 0.5,
        afterBuildTicks: (scale) => {
          scale.ticks = axis.categories.map((_, value) => ({ value }));
        },
        ticks: { autoSkip: false, callback: (value) => axis.categories[value] ?? "" },
      };
    }
    const scale = axis.log
      ? logAxis(axis.integer)
      : {
          type: "linear",
          ticks: { includeBounds: false, ...(axis.integer ? { precision: 0 } : {}) },
        };
    scale.title = title;
    if (axis.bounds) {
      const [low, high] = axis.bounds;
      if (axis.log) {
        const f = (high / low) ** 0.03;
        scale.min = low / f;
        scale.max = high * f;
      } else {
        const pad = 0.03 * (high - low);
        scale.min = low - pad;
        scale.max = high + pad;
      }
    }
    return scale;
  }

  function qualityLimits(finished, partial) {
    // the finished runs' range, widened down to a better partial quality; worse partial
    // qualities sit on the top edge instead of stretching the axis (as the PNG plots do)
    const top = finished.length
      ? Math.max(...finished)
      : partial.length
        ? Math.max(...partial)
        : null;
    if (top === null) return null;
    const values = finished.concat(partial.filter((v) => v <= top));
    const low = Math.min(...values),
      high = Math.max(...values);
    if (spansDecades(values)) {
      const f = (high / low) ** 0.06;
      return { min: low / f, max: high * f, log: true };
    }
    const pad = 0.08 * (high - low) || 0.08 * Math.abs(high) || 0.1;
    return { min: low - pad, max: high + pad, log: false };
  }

  const VIRIDIS = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];

  function viridis(t) {
    // the colour map `plot` colours budgets with, from its five anchors
    const at = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(at), VIRIDIS.length - 2);
    const rgb = VIRIDIS[i].map((c, k) => Math.round(c + (VIRIDIS[i + 1][k] - c) * (at - i)));
    return `rgb(${rgb.join(",")})`;
  }

  function parameterChart(canvas, parameter, data) {
    const position = (row) => {
      const value = row.config[parameter.name];
      return parameter.axis.categories.length
        ? parameter.axis.categories.indexOf(String(value))
        : value;
    };
    const rows = data.rows.filter((r) => r.state === "finished" && parameter.name in r.config);
    const ok = rows.filter((r) => r.kind === "ok");
    const partial = rows.filter((r) => r.kind === "partial");
    const failed = rows.filter((r) => r.kind === "failed");
    const limits = qualityLimits(
      ok.map((r) => r.quality),
      partial.map((r) => r.quality),
    );
    const describe = (r) =>
      `run ${r.run_id}: ${statusText(r)}, ${qualityText(r)}` +
      (r.reason ? ` (${r.reason})` : "") +
      `; ${configText(r.config)}`;
    const point = (r) => ({
      x: position(r),
      y: limits ? Math.min(r.quality, limits.max) : r.quality,
      run: r.run_id,
      label: describe(r),
    });
    const budgets = [...new Set(ok.map((r) => r.budget ?? 0))].sort((a, b) => a - b);
    const finished =
      budgets.length > 1 // a 1-epoch run's quality is no match for a 9-epoch run's
        ? budgets.map((b, i) => ({
            label: `finished at budget ${num(b)}`,
            data: ok.filter((r) => (r.budget ?? 0) === b).map(point),
            backgroundColor: viridis((0.9 * i) / (budgets.length - 1)),
            pointRadius: 4,
          }))
        : [
            {
              label: "finished",
              data: ok.map(point),
              backgroundColor: "rgba(31,119,180,0.8)",
              pointRadius: 4,
            },
          ];
    const datasets = [
      ...finished,
      {
        label:
          data.result === "cost" ? "timed out: PAR-k cost" : "stopped / timed out: partial quality",
        data: partial.map(point),
        pointRadius: 5,
        pointStyle: partial.map((r) => (limits && r.quality > limits.max ? "triangle" : "rectRot")),
        backgroundColor: "rgba(0,0,0,0)",
        borderColor: "#ff7f0e",
        borderWidth: 1.5,
        clip: false, // a triangle on the top edge is drawn whole
      },
    ];
    for (const [label, id, style] of [
      [
        "best (incumbent)",
        data.best,
        { pointStyle: "star", borderColor: "#b08800", borderWidth: 2, pointRadius: 9 },
      ],
      [
        "default configuration",
        data.default,
        {
          pointStyle: "circle",
          backgroundColor: "rgba(0,0,0,0)",
          borderColor: "black",
          pointRadius: 9,
        },
      ],
    ]) {
      const marked = rows.find((r) => r.run_id === id && r.kind !== "failed");
      if (marked) datasets.push({ label, data: [point(marked)], ...style });
    }
    const scales = { x: xScale(parameter) };
    if (limits) {
      scales.y = {
        ...(limits.log ? logAxis() : { type: "linear", ticks: { includeBounds: false } }),
        min: limits.min,
        max: limits.max,
        position: "left",
        title: { display: true, text: data.result_label },
        stack: "runs",
        stackWeight: 4,
      };
    } else {
      scales.y = {
        title: { display: true, text: "no run of this parameter has a quality" },
        position: "left",
        stack: "runs",
        stackWeight: 4,
        ticks: { display: false },
      };
    }
    if (failed.length) {
      // failed runs have no quality: a band of their own above the plot, one row per reason
      const labels = [...new Set(failed.map((r) => r.failure_label))];
      scales.band = {
        axis: "y",
        position: "left",
        type: "category",
        labels,
        offset: true,
        stack: "runs",
        stackWeight: Math.min(2, 0.5 + 0.4 * labels.length),
        grid: { display: false },
        ticks: {
          font: { size: 10 },
          autoSkip: false, // one row per reason, each labelled
          callback: (value) => shortLabel(labels[value]),
        },
      };
      // the two stacked axes are as wide as the longest reason, which Chart.js cuts otherwise
      const width = labelWidth(labels.map(shortLabel), 10) + 14;
      for (const id of ["y", "band"]) {
        scales[id].afterFit = (scale) => {
          scale.width = Math.max(scale.width, width);
        };
      }
      datasets.push({
        label: `${failed.length} failed (no quality), by reason`,
        yAxisID: "band",
        pointStyle: "crossRot",
        pointRadius: 6,
        borderWidth: 2,
        borderColor: failed.map((r) => STATUS_COLOURS[r.status] || "black"),
        data: failed.map((r) => ({
          x: position(r),
          y: r.failure_label,
          run: r.run_id,
          label: describe(r),
        })),
      });
    }
    chart(canvas, {
      type: "scatter",
      data: { datasets },
      options: {
        scales,
        plugins: {
          legend: { labels: { usePointStyle: true } },
          tooltip: { callbacks: { label: tooltipLabel } },
        },
      },
    });
  }

  function renderCharts(data, curves) {
    bestCharts(curves, data.default_quality, data.result_label);
    const box = $("parameter-charts");
    const names = data.parameters.map((p) => p.name).join("\n");
    if (box.dataset.names !== names) {
      const label = data.result_label; // what SMAC minimised
      const shown = label[0].toUpperCase() + label.slice(1);
      box.dataset.names = names;
      box.replaceChildren(
        ...data.parameters.map((p) =>
          el(
            "figure",
            {},
            el("figcaption", {}, `${shown} against ${p.name}`),
            el("div", { className: "chart" }, el("canvas", { dataset: { parameter: p.name } })),
          ),
        ),
      );
    }
    data.parameters.forEach((p, i) => parameterChart(box.querySelectorAll("canvas")[i], p, data));
  }

  // a run's points, led by the last point of the run it was promoted from (multi-fidelity):
  // one line per configuration from its first epoch on, as `plot` draws it
  function curvePoints(curves, run, row) {
    const point = (p, of) => ({
      x: p.step,
      y: p.quality,
      run: of,
      label: `run ${of}, step ${num(p.step)}: ${num(p.quality)}`,
    });
    const own = curves[run].filter((p) => p.quality !== null).map((p) => point(p, run));
    const earlier = (curves[row?.promoted_from] || []).filter((p) => p.quality !== null);
    const last = earlier[earlier.length - 1];
    if (!own.length || !last || last.step >= own[0].x) return { points: own, promoted: false };
    return { points: [point(last, row.promoted_from), ...own], promoted: true };
  }

  function renderProgress(curves, rows) {
    const runs = Object.keys(curves);
    const byId = new Map(rows.map((row) => [row.run_id, row]));
    $("curves-figure").hidden = !runs.length;
    if (!runs.length) return;
    const values = runs.flatMap((r) => curves[r].map((p) => p.quality));
    const colours = new Map(); // one colour per configuration, as in `plot`
    const datasets = runs.map((run) => {
      const selected = run === state.run;
      const row = byId.get(run);
      const config = Object.entries(row?.config || {}).sort();
      const key = config.length ? JSON.stringify(config) : run; // no configuration: its own
      if (!colours.has(key)) colours.set(key, COLOURS[colours.size % COLOURS.length]);
      const best = row?.best === true;
      const colour = best ? "black" : colours.get(key);
      const cut = row?.state === "finished" && row.status === "TIMEOUT"; // pruned or stopped
      const { points, promoted } = curvePoints(curves, run, row);
      const radius = selected ? 3 : 1.5;
      const label = cut ? `run ${run}: ${statusText(row)}` : `run ${run}`;
      return {
        label: (best ? `${label}, best run` : label) + (promoted ? ", promoted" : ""),
        borderDash: cut ? [5, 4] : [], // a curve that ended early: no converged training
        showLine: true,
        borderColor: colour,
        backgroundColor: colour,
        borderWidth: selected || best ? 3.5 : 1.2,
        // where a promoted run took over: an open circle, as in `plot`
        pointRadius: points.map((_, i) => (promoted && i === 0 ? 6 : radius)),
        pointBackgroundColor: points.map((_, i) => (promoted && i === 0 ? "white" : colour)),
        order: selected || best ? 0 : 1,
        data: points,
      };
    });
    chart($("curves"), {
      type: "scatter",
      data: { datasets },
      options: {
        scales: {
          x: { title: { display: true, text: "step (e.g. epoch)" } },
          y: {
            ...(spansDecades(values) ? logAxis() : { type: "linear" }),
            title: { display: true, text: "quality" },
          },
        },
        plugins: {
          legend: { display: runs.length <= COLOURS.length }, // beyond, colours repeat
          tooltip: { callbacks: { label: tooltipLabel } },
        },
      },
    });
  }

  // ---- the loop -----------------------------------------------------------------------------

  let timer = null;
  let ticking = false;

  async function tick() {
    clearTimeout(timer);
    if (ticking) return;
    ticking = true;
    state.waited = 0;
    try {
      const picture = await api("api/status");
      const names = picture.rungroups.map((g) => g.rungroup);
      if (!names.includes(state.group)) {
        const asked = new URLSearchParams(location.hash.slice(1)).get("group");
        selectGroup(names.includes(asked) ? asked : (picture.latest ?? names[0] ?? null));
      }
      renderGroups(picture);
      $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      $("problem").hidden = true;
      $("group").hidden = !state.group;
      if (state.group) {
        const g = picture.rungroups.find((x) => x.rungroup === state.group);
        renderWorkers(g);
        const chosen = state.group;
        const data = await api(`api/runs?group=${q(chosen)}`);
        // a click on another rungroup while this look waited: its data is not the one shown
        // now, and the next look draws the chosen rungroup (drawn here, the charts of the one
        // before stayed under its name when both had the same runs and parameters)
        if (chosen !== state.group) return;
        for (const key of [...state.stopping]) {
          const [group, run] = key.split("/");
          const row = data.rows.find((r) => r.run_id === run);
          if (group === state.group && row?.state !== "running") {
            state.stopping.delete(key);
            if (row) notice(`Run ${run} has stopped: ${statusText(row)}, ${qualityText(row)}.`);
          }
        }
        await renderRuns(data);
        if (chosen !== state.group) return;
        if (state.follow) state.run = newestRun(data.rows);
        state.table.getRows("visible").forEach(markRow); // the others when drawn
        const finished = data.rows
          .filter((r) => r.state === "finished")
          .map((r) => r.run_id)
          .join();
        const chartsKey = `${chosen}:${finished}:${data.parameters.map((p) => p.name)}`;
        if (chartsKey !== state.chartsKey) {
          const curves = await api(`api/curves?group=${q(chosen)}`);
          if (chosen !== state.group) return;
          renderCharts(data, curves);
          state.chartsKey = chartsKey;
        }
        const live = data.rows.some((r) => r.state === "running");
        const progressKey = `${chartsKey}:${state.run}`;
        if (
          progressKey !== state.progressKey ||
          (live && Date.now() - state.progressAt > PROGRESS_MS)
        ) {
          const progress = await api(`api/progress?group=${q(chosen)}`);
          if (chosen !== state.group) return;
          renderProgress(progress, data.rows);
          state.progressKey = progressKey;
          state.progressAt = Date.now();
        }
        await refreshLog();
      }
    } catch (error) {
      $("problem").hidden = false;
      $("problem").textContent = `dashboard: ${error.message}`;
    } finally {
      ticking = false;
      // a long history makes the server's answers longer: ask less often, a fifth of the
      // time at most, and at least every half minute; paced by the answers alone, not by the
      // page's drawing (a wide space's table and charts took seconds, and a live launch then
      // went unseen for 30 s), which the next look waits for anyway
      timer = setTimeout(tick, Math.min(Math.max(POLL_MS, 5 * state.waited), 30000));
    }
  }

  $("follow").addEventListener("change", (event) => {
    state.follow = event.target.checked;
    tick();
  });
  tick();
})();
