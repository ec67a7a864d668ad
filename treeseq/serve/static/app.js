// The treeseq page: no framework, no build step, nothing from outside the server.
// User text is always set with textContent (never innerHTML); tree pictures are the server's SVG,
// parsed as XML (its text escaped by the server) and imported as nodes.
"use strict";

const $ = (id) => document.getElementById(id);
let models = {};
// The generating options (POST /v1/generate's body in /openapi.json: types, bounds, declared defaults).
let generateFields = null;
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

// Distinct colours for a model's slot types: the types its B-/I- tags name, sorted, spread around the
// colour wheel by the golden angle (so neighbours differ); a type the labels do not name gets its hash's.
function slotColours(model) {
  const types = [...new Set((model.labels || []).map((t) => (/^[BIES]-(.+)$/.exec(t) || [])[1]).filter(Boolean))].sort();
  const colours = new Map(types.map((type, i) => [type, `hsl(${Math.round(i * 137.508) % 360}, 75%, 82%)`]));
  return (type) => colours.get(type) || `hsl(${hue(type)}, 75%, 82%)`;
}

// Class probabilities as bars, the most likely class first.
function probBars(pairs) {
  const box = el("div", "bars");
  for (const [name, p] of [...pairs].sort((a, b) => b[1] - a[1])) {
    const row = el("div", "class-row");
    row.dataset.prob = String(p);
    const bar = el("span", "bar");
    bar.style.width = `${Math.round(200 * p)}px`;
    row.append(el("span", "class-name", name), bar, " ", el("span", "muted", pct(p)));
    box.append(row);
  }
  return box;
}

async function treeView(section, record, name, text) {
  const head = el("h2");
  head.append(el("span", "label", record.label || "parse"));
  if (record.prob !== undefined) head.append(" ", el("span", "prob", pct(record.prob)));
  head.append(" ", el("span", "muted", text));
  section.append(head);
  if (record.nodes && record.classes) section.append(probBars(record.classes.map((c, i) => [c, record.nodes[0].probs[i]])));
  const svgText = await call("/v1/render", {model: name, text: text});
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const box = el("div", "tree");  // the picture scales down to the width (style.css), the root always in view
  box.append(document.importNode(parsed.documentElement, true));
  section.append(box);
}

// The slots as displaCy shows entities: the sentence with each slot's characters marked, its type after it.
function slotView(record, colour) {
  const line = el("div", "entities");
  let at = 0;
  for (const slot of [...record.slots].sort((a, b) => a.start - b.start)) {
    if (slot.start < at) continue;  // overlapping slots are not expected; the first one wins
    if (slot.start > at) line.append(record.text.slice(at, slot.start));
    const mark = el("mark", "entity", record.text.slice(slot.start, slot.end));
    mark.dataset.type = slot.type;
    mark.style.backgroundColor = colour(slot.type);
    mark.append(el("span", "entity-type", slot.type));
    line.append(mark);
    at = slot.end;
  }
  if (at < record.text.length) line.append(record.text.slice(at));
  return line;
}

function tagView(section, record, model) {
  if (record.intent !== undefined) {
    const intent = el("div", "intent");
    intent.append("intent ", el("span", "label intent-label", record.intent), " ", el("span", "prob", pct(record.intent_prob)));
    section.append(intent);
  }
  const colour = slotColours(model);
  if (record.slots !== undefined) section.append(slotView(record, colour));
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
      box.style.backgroundColor = colour(slot[1]);
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

// The heatmap's colour scale: a cell's colour is its weight as the opacity of one colour, 0 to 1.
function heatmapScale() {
  const scale = el("div", "scale");
  const ticks = el("div", "scale-ticks");
  for (const tick of ["0", "0.25", "0.5", "0.75", "1"]) ticks.append(el("span", null, tick));
  const bar = el("div", "scale-bar");
  bar.title = "attention weight, 0 to 1";
  scale.append(el("div", "muted", "attention weight"), bar, ticks);
  return scale;
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
  if (record.source_pieces && record.translations[0].attention) {
    const box = el("div", "attention");
    box.append(heatmap(record), heatmapScale());
    section.append(box);
  }
}

function classView(section, record) {
  const head = el("h2");
  head.append(el("span", "label", record.label), " ", el("span", "prob", pct(record.prob)), " ", el("span", "muted", record.text));
  section.append(head);
  section.append(probBars(Object.entries(record.probs || {})));
}

function scoreView(section, record) {
  section.append(el("div", null, record.text));
  section.append(el("div", "muted", `log-probability ${record.logprob} · perplexity ${record.ppl} · ${record.tokens.length} tokens`));
}

// One sample of POST /v1/generate: the prompt as written, what the model added, and its figures.
function sampleView(sample) {
  const section = el("section", "result lm sample");
  section.dataset.sample = String(sample.sample);
  const text = el("div", "sample-text");
  text.append(el("span", "prompt", sample.prompt), el("span", "continuation", sample.text.slice(sample.prompt.length)));
  section.append(text);
  const end = sample.ended ? "ended the line" : "stopped at max_tokens";
  section.append(el("div", "muted", `sample ${sample.sample + 1} · ${sample.tokens} tokens · log-probability ${sample.logprob} · ${end}`));
  return section;
}

// The generate form's inputs, one per option in POST /v1/generate's schema (bounds and defaults from the declaration).
async function generateOptions() {
  if (generateFields !== null) return;
  const api = await call("/openapi.json");
  const schema = api.paths["/v1/generate"].post.requestBody.content["application/json"].schema;
  generateFields = Object.entries(schema.properties).filter(([name]) => name !== "model" && name !== "prompt");
  const box = $("generate-options");
  for (const [name, spec] of generateFields) {
    const input = el("input");
    Object.assign(input, {id: `gen-${name}`, type: "number", step: spec.type === "integer" ? "1" : "any"});
    if (spec.minimum !== undefined) input.min = String(spec.minimum);
    if (spec.exclusiveMinimum !== undefined) input.min = String(spec.exclusiveMinimum);
    if (spec.maximum !== undefined) input.max = String(spec.maximum);
    if (spec.default !== undefined && spec.default !== null) input.value = String(spec.default);
    else input.placeholder = "none";
    input.title = spec.description || name;
    const label = el("label", null, name.replace("_", " ") + " ");
    label.append(input);
    box.append(label);
  }
}

async function generate(event) {
  event.preventDefault();
  showError("");
  const results = $("results");
  results.replaceChildren();
  const body = {model: $("model").value, prompt: $("prompt").value};
  for (const [name] of generateFields || []) {
    const value = $(`gen-${name}`).value;
    if (value !== "") body[name] = Number(value);  // the server checks it: out of bounds is its sentence in the error box
  }
  $("generate").disabled = true;
  try {
    const answer = await call("/v1/generate", body);
    for (const sample of answer.results) results.append(sampleView(sample));
    results.dataset.done = String(Date.now());
  } catch (err) {
    showError(err.message);
  } finally {
    $("generate").disabled = false;
  }
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
      else if (model.family === "tagger") tagView(section, record, model);
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
  $("generate-form").hidden = model.family !== "lm";
  if (model.family === "lm") generateOptions().catch((err) => showError(`could not read the generating options: ${err.message}`));
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
  $("generate-form").addEventListener("submit", generate);
  document.body.dataset.ready = "true";
}

start();
