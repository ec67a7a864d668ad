// The treeseq page: no framework, no build step, nothing from outside the server.
// User text is always set with textContent (never innerHTML); tree pictures are the server's SVG,
// parsed as XML (its text escaped by the server) and imported as nodes.
"use strict";

const $ = (id) => document.getElementById(id);
let models = {};
// A blank line as the server defines it (GET /v1/models gives the pattern): it gets no result.
let blank = /^\s*$/;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function call(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  const type = response.headers.get("Content-Type") || "";
  const payload = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(payload && payload.error ? payload.error : `HTTP ${response.status}`);
  return payload;
}

function pct(p) { return (100 * p).toFixed(1) + "%"; }

function hue(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

async function treeView(section, record, name, text) {
  const head = el("h2");
  head.append(el("span", "label", record.label || "parse"));
  if (record.prob !== undefined) head.append(" ", el("span", "prob", pct(record.prob)));
  head.append(" ", el("span", "muted", text));
  section.append(head);
  const svgText = await call("/v1/render", {model: name, text: text});
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const box = el("div", "tree");
  box.append(document.importNode(parsed.documentElement, true));
  section.append(box);
}

function tagView(section, record) {
  if (record.intent !== undefined) {
    const intent = el("div", "intent");
    intent.append("intent ", el("span", "label intent-label", record.intent), " ", el("span", "prob", pct(record.intent_prob)));
    section.append(intent);
  }
  const line = el("div", "tokens");
  record.tokens.forEach((token, i) => {
    const tag = record.tags[i] || "";
    const box = el("span", "token");
    box.append(el("span", "word", token), el("span", "tag", tag));
    box.dataset.tag = tag;
    const slot = /^[BIES]-(.+)$/.exec(tag);
    if (slot && record.slots !== undefined) {
      box.classList.add("slot");
      box.dataset.slot = slot[1];
      box.style.backgroundColor = `hsl(${hue(slot[1])}, 70%, 85%)`;
      box.title = slot[1];
    }
    line.append(box);
  });
  section.append(line);
}

function heatmap(record) {
  const best = record.translations[0];
  const table = el("table", "heatmap");
  const head = el("thead");
  const top = el("tr");
  top.append(el("th"));
  record.source_pieces.forEach((piece) => top.append(el("th", null, piece)));
  head.append(top);
  table.append(head);
  const body = el("tbody");
  best.attention.forEach((row, i) => {
    const tr = el("tr");
    tr.append(el("th", null, record.target_pieces[i]));
    row.forEach((weight, j) => {
      const cell = el("td");
      cell.style.backgroundColor = `rgba(68, 1, 84, ${weight.toFixed(3)})`;
      cell.title = `${record.target_pieces[i]} → ${record.source_pieces[j] || ""}: ${weight.toFixed(3)}`;
      tr.append(cell);
    });
    body.append(tr);
  });
  table.append(body);
  return table;
}

function translationView(section, record) {
  section.append(el("div", "muted source", record.source));
  section.append(el("div", "translation", record.translations[0].text));
  const list = el("ol", "nbest");
  record.translations.forEach((hyp) => {
    const item = el("li", null, hyp.text);
    item.append(el("span", "score", `score ${hyp.score.toFixed(3)} · log-prob ${hyp.log_prob.toFixed(2)}`));
    list.append(item);
  });
  section.append(list);
  if (record.source_pieces && record.translations[0].attention) section.append(heatmap(record));
}

function classView(section, record) {
  const head = el("h2");
  head.append(el("span", "label", record.label), " ", el("span", "prob", pct(record.prob)), " ", el("span", "muted", record.text));
  section.append(head);
  for (const [name, p] of Object.entries(record.probs || {})) {
    const row = el("div", "class-row", name);
    const bar = el("span", "bar");
    bar.style.width = `${Math.round(200 * p)}px`;
    row.append(bar, " ", el("span", "muted", pct(p)));
    section.append(row);
  }
}

function scoreView(section, record) {
  section.append(el("div", null, record.text));
  section.append(el("div", "muted", `log-probability ${record.logprob} · perplexity ${record.ppl} · ${record.tokens.length} tokens`));
}

async function run(event) {
  event.preventDefault();
  showError("");
  const name = $("model").value;
  const model = models[name];
  const texts = $("text").value.split(/\r?\n/).filter((line) => !blank.test(line));
  const results = $("results");
  results.replaceChildren();
  if (!texts.length) return showError("Type a sentence first.");
  const body = {model: name, texts: texts};
  if (model.family === "translator") {
    body.beam = Number($("beam").value) || 5;
    body.n_best = Math.min(Number($("nbest").value) || 1, body.beam);
    body.attention = true;
  }
  $("run").disabled = true;
  try {
    const answer = await call("/v1/predict", body);
    for (let i = 0; i < texts.length; i++) {
      const record = answer.results[i];
      const section = el("section", `result ${model.family}`);
      results.append(section);
      if (!record || !Object.keys(record).length) section.append(el("div", "muted", texts[i]));  // no result for it
      else if (model.family === "tree" || model.family === "parser") await treeView(section, record, name, texts[i]);
      else if (model.family === "tagger") tagView(section, record);
      else if (model.family === "translator") translationView(section, record);
      else if (model.family === "classifier") classView(section, record);
      else scoreView(section, record);
    }
    results.dataset.done = String(Date.now());
  } catch (err) {
    showError(err.message);
  } finally {
    $("run").disabled = false;
  }
}

function chosen() {
  const model = models[$("model").value];
  if (!model) return;
  $("translator-options").hidden = model.family !== "translator";
  const labels = model.labels && model.labels.length ? ` · ${model.labels.length} labels` : "";
  $("model-info").textContent = `${model.family}${model.kind ? " (" + model.kind + ")" : ""}${labels}`;
}

async function start() {
  try {
    const listed = await call("/v1/models");
    if (listed.blank) blank = new RegExp(listed.blank);
    const select = $("model");
    for (const model of listed.models) {
      models[model.name] = model;
      const option = el("option", null, `${model.name} (${model.family})`);
      option.value = model.name;
      select.append(option);
    }
    $("status").textContent = `${listed.models.length} model(s)`;
    chosen();
  } catch (err) {
    showError(`could not list the models: ${err.message}`);
  }
  $("model").addEventListener("change", chosen);
  $("form").addEventListener("submit", run);
  document.body.dataset.ready = "true";
}

start();
