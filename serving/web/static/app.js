// ModelFactory page: plain JavaScript against the AI service that served it (no build step).
// Every amount arrives as a decimal string of wei and is formatted with BigInt, never a float.
"use strict";

const WEI_PER_OPEN = 10n ** 18n;
const KEY_STORAGE = "openledger.apiKey";
const POLL_MS = 1000;

const $ = (selector) => document.querySelector(selector);

// ---------- shared helpers ----------

function formatOpen(wei) {
  const value = BigInt(wei);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const fraction = (abs % WEI_PER_OPEN).toString().padStart(18, "0").replace(/0+$/, "");
  return sign + (abs / WEI_PER_OPEN).toString() + (fraction ? "." + fraction : "");
}

function apiKeyHeaders() {
  const key = $("#api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function failure(response) {
  try {
    const body = await response.json();
    return new Error(body.error?.message ?? `HTTP ${response.status}`);
  } catch {
    return new Error(`HTTP ${response.status}`);
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) throw await failure(response);
  return response.json();
}

function showError(error) {
  const box = $("#error");
  box.textContent = error ? String(error.message ?? error) : "";
  box.hidden = !error;
}

// Wraps an event handler so any failure is shown instead of lost in the console.
const guarded = (handler) => async (event) => {
  showError(null);
  try {
    await handler(event);
  } catch (error) {
    showError(error);
  }
};

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.append(cell);
    else td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

const short = (hex) => (hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex);

// ---------- tabs ----------

function selectTab(name) {
  for (const button of document.querySelectorAll("[role=tab]")) {
    const selected = button.dataset.tab === name;
    button.setAttribute("aria-selected", String(selected));
    $(`#${button.dataset.tab}`).hidden = !selected;
  }
}

// ---------- datanets ----------

let currentDatanet = null;
let lastUpload = null;

async function loadDatanets() {
  const { data } = await api("/v1/datanets");
  fillRows(
    $("#datanet-list tbody"),
    data.map((d) => {
      const tr = row([
        d.id,
        d.metadata_uri,
        short(d.owner),
        d.latest_version,
        `${d.approved_count} / ${d.contribution_count}`,
        formatOpen(d.contribution_stake),
      ]);
      tr.dataset.id = d.id;
      tr.addEventListener("click", guarded(() => showDatanet(d.id)));
      return tr;
    }),
  );
  if (!$("#job-file").value && data.length) {
    $("#job-file").value = `datanet:${data[0].id}@latest`;
  }
}

async function showDatanet(id) {
  const d = await api(`/v1/datanets/${id}`);
  currentDatanet = d;
  $("#detail-id").textContent = d.id;
  $("#detail-uri").textContent = d.metadata_uri;
  fillRows(
    $("#version-list tbody"),
    d.versions.map((v) => row([v.version, v.contribution_count, short(v.merkle_root)])),
  );
  fillRows(
    $("#contribution-list tbody"),
    d.contributions.map((c) => row([c.id, short(c.contributor), short(c.sha256), c.size, c.status])),
  );
  $("#datanet-detail").hidden = false;
}

async function upload(event) {
  event.preventDefault();
  const file = $("#upload-file").files[0];
  const form = new FormData();
  form.append("file", file);
  lastUpload = await api("/v1/contributions", { method: "POST", body: form });
  lastUpload.name = file.name;
  $("#upload-sha256").textContent = lastUpload.sha256;
  $("#upload-bytes").textContent = lastUpload.bytes;
  $("#upload-result").hidden = false;
  $("#register-status").textContent = "";
  $("#register-command").hidden = true;
}

function contributeCommand(datanetId, upload) {
  return (
    `openledger datanet contribute ${datanetId} --hash 0x${upload.sha256}` +
    ` --size ${upload.bytes} --uri sha256:${upload.sha256}`
  );
}

async function waitForReceipt(ethereum, hash) {
  for (;;) {
    const receipt = await ethereum.request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) return receipt;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// Sends DatanetRegistry.contribute through the browser wallet, or shows the CLI equivalent.
async function register() {
  const id = currentDatanet.id;
  const status = $("#register-status");
  if (!window.ethereum) {
    status.textContent = "No browser wallet found: register it with the command line.";
    $("#register-command").textContent = contributeCommand(id, lastUpload);
    $("#register-command").hidden = false;
    return;
  }
  const query = new URLSearchParams({
    sha256: lastUpload.sha256,
    size: lastUpload.bytes,
    uri: `sha256:${lastUpload.sha256}`,
  });
  const tx = await api(`/v1/datanets/${id}/contribute_tx?${query}`);
  const [from] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const chainId = BigInt(await window.ethereum.request({ method: "eth_chainId" }));
  if (chainId !== BigInt(tx.chain_id)) {
    throw new Error(`The wallet is on chain ${chainId}, this service on chain ${tx.chain_id}.`);
  }
  status.textContent = "Waiting for the wallet…";
  const hash = await window.ethereum.request({
    method: "eth_sendTransaction",
    params: [{ from, to: tx.to, data: tx.data, value: "0x" + BigInt(tx.value).toString(16) }],
  });
  status.textContent = `Sent ${hash}, waiting for the receipt…`;
  const receipt = await waitForReceipt(window.ethereum, hash);
  if (BigInt(receipt.status) !== 1n) throw new Error(`Transaction ${hash} reverted.`);
  status.textContent = `Registered in block ${BigInt(receipt.blockNumber)} (tx ${hash}).`;
  await Promise.all([showDatanet(id), loadDatanets()]);
}

// ---------- models ----------

async function loadModels() {
  const { data } = await api("/v1/models");
  const ids = data.map((m) => m.id);
  const bases = ids.filter((id) => !id.startsWith("adapter-"));
  $("#job-model").replaceChildren(...bases.map((id) => new Option(id, id)));
  const chat = $("#chat-model");
  const chosen = chat.value;
  chat.replaceChildren(...ids.map((id) => new Option(id, id)));
  if (ids.includes(chosen)) chat.value = chosen;
}

// ---------- fine-tune ----------

let polling = null;

function drawLoss(points) {
  const svg = $("#loss-chart");
  const [width, height, pad] = [600, 260, 36];
  const all = [...points.train, ...points.eval];
  const ns = "http://www.w3.org/2000/svg";
  const make = (tag, attributes) => {
    const element = document.createElementNS(ns, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  };
  const children = [
    make("line", { x1: pad, y1: height - pad, x2: width - pad / 2, y2: height - pad, class: "axis" }),
    make("line", { x1: pad, y1: pad / 2, x2: pad, y2: height - pad, class: "axis" }),
  ];
  if (all.length) {
    const maxStep = Math.max(1, ...all.map((p) => p.step));
    const losses = all.map((p) => p.loss);
    const [low, high] = [Math.min(...losses), Math.max(...losses)];
    const span = high - low || 1;
    const x = (step) => pad + ((width - 1.5 * pad) * step) / maxStep;
    const y = (loss) => height - pad - ((height - 1.5 * pad) * (loss - low)) / span;
    const line = (series, cls) =>
      make("polyline", {
        class: cls,
        points: series.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(" "),
      });
    children.push(line(points.train, "train"), line(points.eval, "eval"));
    for (const p of points.eval) {
      children.push(make("circle", { class: "eval", cx: x(p.step), cy: y(p.loss), r: 3 }));
    }
    const label = (text, attributes) => {
      const element = make("text", attributes);
      element.textContent = text;
      return element;
    };
    children.push(
      label(high.toFixed(3), { x: 2, y: pad / 2 + 4 }),
      label(low.toFixed(3), { x: 2, y: height - pad }),
      label(`step ${maxStep}`, { x: width - pad * 2, y: height - pad / 4 }),
      label("train", { x: width - 120, y: 16, class: "train-label" }),
      label("held-out", { x: width - 70, y: 16, class: "eval-label" }),
    );
  }
  svg.replaceChildren(...children);
  svg.dataset.points = String(points.train.length);
  svg.dataset.evalPoints = String(points.eval.length);
}

// A step event carries the training loss, an evaluation the held-out one; checkpoint and save
// events repeat a step already seen, so a point is kept per step.
function addPoint(points, data) {
  const upsert = (series, loss) => {
    const kept = series.filter((p) => p.step !== data.step);
    kept.push({ step: data.step, loss });
    return kept.sort((a, b) => a.step - b.step);
  };
  if (data.eval_loss != null) points.eval = upsert(points.eval, data.eval_loss);
  else if (data.train_loss != null) points.train = upsert(points.train, data.train_loss);
}

// Events come newest first; page back until an already seen one, then return them oldest first.
async function newEvents(jobId, seen) {
  const fresh = [];
  let after = null;
  for (;;) {
    const query = after ? `?limit=100&after=${after}` : "?limit=100";
    const page = await api(`/v1/fine_tuning/jobs/${jobId}/events${query}`);
    const unseen = page.data.filter((event) => !seen.has(event.id));
    fresh.push(...unseen);
    if (unseen.length < page.data.length || !page.has_more) break;
    after = page.data[page.data.length - 1].id;
  }
  return fresh.reverse();
}

function watchJob(jobId) {
  clearTimeout(polling);
  const seen = new Set();
  const points = { train: [], eval: [] };
  drawLoss(points);
  $("#job-events").replaceChildren();
  $("#job-model-out").textContent = "";
  const tick = async () => {
    try {
      const job = await api(`/v1/fine_tuning/jobs/${jobId}`);
      for (const event of await newEvents(jobId, seen)) {
        seen.add(event.id);
        const item = document.createElement("li");
        item.textContent = event.message;
        $("#job-events").prepend(item);
        addPoint(points, event.data ?? {});
      }
      drawLoss(points);
      $("#job-status").textContent = job.status;
      if (job.status === "failed") {
        $("#job-model-out").textContent = job.error?.message ?? "";
      }
      if (job.status === "succeeded") {
        const served = job.result?.hook?.model;
        $("#job-model-out").textContent = served
          ? `→ served as ${served} (${job.fine_tuned_model})`
          : `→ ${job.fine_tuned_model}`;
        await loadModels();
      }
      if (["succeeded", "failed", "cancelled"].includes(job.status)) return;
    } catch (error) {
      showError(error);
    }
    polling = setTimeout(tick, POLL_MS);
  };
  tick();
}

async function startJob(event) {
  event.preventDefault();
  const number = (selector) => Number($(selector).value);
  const job = await api("/v1/fine_tuning/jobs", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...apiKeyHeaders() },
    body: JSON.stringify({
      model: $("#job-model").value,
      training_file: $("#job-file").value.trim(),
      hyperparameters: {
        n_epochs: number("#job-epochs"),
        learning_rate_multiplier: number("#job-lr"),
        lora_rank: number("#job-rank"),
        batch_size: number("#job-batch"),
      },
    }),
  });
  $("#job-id").textContent = job.id;
  $("#job-status").textContent = job.status;
  watchJob(job.id);
}

// ---------- chat ----------

const history = [];

function bubble(role, text) {
  const element = document.createElement("div");
  element.className = `message ${role}`;
  element.textContent = text;
  $("#chat-log").append(element);
  return element;
}

// Server-sent events over fetch: split on blank lines, hand each `data:` payload to `onData`.
async function readEvents(response, onData) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (line.startsWith("data:")) onData(line.slice(5).trim());
      }
    }
  }
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("#chat-input");
  const content = input.value.trim();
  if (!content) return;
  history.push({ role: "user", content });
  bubble("user", content);
  input.value = "";
  const answer = bubble("assistant", "");
  answer.classList.add("streaming");
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...apiKeyHeaders() },
    body: JSON.stringify({
      model: $("#chat-model").value,
      messages: history,
      max_tokens: Number($("#chat-max").value),
      stream: true,
    }),
  });
  if (!response.ok) {
    history.pop();
    answer.remove();
    throw await failure(response);
  }
  let text = "";
  let responseId = null;
  try {
    await readEvents(response, (data) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      text += chunk.choices?.[0]?.delta?.content ?? "";
      responseId = chunk.id ?? responseId; // the last chunks carry the paid response's id
      answer.textContent = text;
    });
  } finally {
    answer.classList.remove("streaming");
    history.push({ role: "assistant", content: text });
  }
  if (responseId?.startsWith("resp_")) answer.after(attributionButton(responseId));
}

// A paid answer's Proof of Attribution: who is credited, by which method, and the settlement.
function attributionButton(responseId) {
  const box = document.createElement("div");
  box.className = "attribution";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Who is credited?";
  button.addEventListener("click", guarded(() => showAttribution(box, button, responseId)));
  box.append(button);
  return box;
}

// Shown under the button, which stays: asked again, it shows the settlement once it lands.
async function showAttribution(box, button, responseId) {
  const r = await api(`/v1/attribution/${encodeURIComponent(responseId)}`);
  const summary = document.createElement("p");
  const settled = r.settlement.tx_hash ? `settled in ${r.settlement.tx_hash}` : r.status;
  summary.textContent = `${r.response_id}: ${r.method ?? "not attributed yet"} (${r.basis ?? "-"}), ${settled}`;
  const table = document.createElement("table");
  table.innerHTML = "<thead><tr><th>Contribution</th><th>Contributor</th><th>Score</th><th>Weight</th></tr></thead><tbody></tbody>";
  fillRows(
    table.querySelector("tbody"),
    r.contributions.map((c) =>
      row([c.contribution_id, c.contributor, c.score === null ? "-" : c.score.toPrecision(4), c.weight]),
    ),
  );
  box.replaceChildren(button, summary, table);
}

// ---------- rewards ----------

async function showRewards(event) {
  event.preventDefault();
  const address = $("#rewards-address").value.trim();
  const r = await api(`/v1/rewards/${encodeURIComponent(address)}`);
  $("#rewards-claimable").textContent = formatOpen(r.claimable);
  fillRows(
    $("#rewards-datanets tbody"),
    r.earnings_by_datanet.map((e) => row([e.datanet_id, formatOpen(e.earned)])),
  );
  $("#rewards-contributions").textContent = r.contribution_ids.join(", ") || "none";
  $("#rewards-result").hidden = false;
}

// ---------- start ----------

function start() {
  const key = $("#api-key");
  key.value = localStorage.getItem(KEY_STORAGE) ?? "";
  key.addEventListener("change", () => localStorage.setItem(KEY_STORAGE, key.value.trim()));
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.addEventListener("click", () => selectTab(button.dataset.tab));
  }
  $("#upload-form").addEventListener("submit", guarded(upload));
  $("#register-button").addEventListener("click", guarded(register));
  $("#job-form").addEventListener("submit", guarded(startJob));
  $("#chat-form").addEventListener("submit", guarded(sendChat));
  $("#rewards-form").addEventListener("submit", guarded(showRewards));
  Promise.all([loadDatanets(), loadModels()]).catch(showError);
}

start();
