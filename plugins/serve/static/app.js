// The page of `qdaconv serve`: send the chosen file to the JSON API, show what comes back, offer the result.
// Plain JavaScript, no build step, nothing from the network. Text from the server is only ever set as text.
"use strict";

const state = { file: null, choices: null, rules: {}, download: null, coders: null, urls: { redact: [], agree: [] } };
const $ = (id) => document.getElementById(id);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function megabytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0) + " MB";
}

// ------------------------------------------------------------------------------------------ progress

let ticker = null;

function showProgress(label, fraction) {
  $("progress").hidden = false;
  const bar = document.querySelector("#progress .bar");
  bar.classList.toggle("busy", fraction === null);
  document.querySelector("#progress .fill").style.width = fraction === null ? "" : Math.round(fraction * 100) + "%";
  $("progress-text").textContent = label;
}

function working(label) {
  const started = Date.now();
  clearInterval(ticker);
  const tick = () => showProgress(`${label}… ${Math.round((Date.now() - started) / 1000)} s`, null);
  tick();
  ticker = setInterval(tick, 1000);
}

function doneProgress() {
  clearInterval(ticker);
  $("progress").hidden = true;
}

// The command line's advice to pass --from means, on this page: choose another kind of file.
const NOT_READABLE = "; pass --from with one of the names that `qdaconv formats` lists";

function showError(message) {
  doneProgress();
  $("error").textContent = message.replace(NOT_READABLE,
    ". Choose a project file or an export of a QDA program; zip a folder before you drop it.");
  $("error").hidden = false;
}

// ------------------------------------------------------------------------------------------ the API

// POST the file (and `extra` form fields: [name, value] with a File or a text) to `url`; the upload shows its
// real progress, the server's work an elapsed time.
function send(url, label, asBlob, extra = []) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.responseType = asBlob ? "blob" : "json";
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.loaded < event.total) {
        showProgress(`Sending ${state.file.name}: ${Math.round((100 * event.loaded) / event.total)}%`,
          event.loaded / event.total);
      }
    };
    request.upload.onload = () => working(label);
    request.onload = async () => {
      if (request.status >= 200 && request.status < 300) {
        resolve(request);
        return;
      }
      let message = `the server answered ${request.status}`;
      try {
        const body = asBlob ? JSON.parse(await request.response.text()) : request.response;
        if (body && body.error) message = body.error;
      } catch (ignored) { /* not JSON: keep the status */ }
      reject(new Error(message));
    };
    request.onerror = () => reject(new Error("the qdaconv server cannot be reached; is `qdaconv serve` still running?"));
    const form = new FormData();
    form.append("file", state.file, state.file.name);
    for (const [name, value] of extra) {
      if (value instanceof File) form.append(name, value, value.name);
      else form.append(name, value);
    }
    working(label);
    request.send(form);
  });
}

// ------------------------------------------------------------------------------------------ step 2

const COUNT_LABELS = {
  "sources.Text": "text sources", "sources.PDF": "PDF sources", "sources.Picture": "pictures",
  "sources.Audio": "audio files", "sources.Video": "videos", "sources.Transcript": "transcripts",
  "sources.Note": "notes (as sources)", "selections.PlainText": "coded text excerpts",
  "selections.PDF": "PDF excerpts", "selections.Picture": "picture excerpts", "selections.Audio": "audio excerpts",
  "selections.Video": "video excerpts", "selections.Transcript": "transcript excerpts",
  codes: "codes", "codes.codable": "codes you can code with", code_tree_depth: "levels in the code tree",
  codings: "codings", cases: "cases", variables: "variables", notes: "notes and memos", users: "users (coders)",
  sets: "sets", links: "links", graphs: "diagrams",
};

function showInfo(info) {
  const facts = $("facts");
  facts.replaceChildren();
  const add = (term, value) => {
    if (!value) return;
    facts.append(element("dt", term), element("dd", value));
  };
  add("File", info.file);
  add("Project", info.name);
  add("Made by", info.origin || "(the file does not say)");
  add("Read as", info.format);
  const body = document.querySelector("#counts tbody");
  body.replaceChildren();
  for (const [key, value] of Object.entries(info.counts)) {
    const row = element("tr");
    row.append(element("th", COUNT_LABELS[key] || key.replace(/^selections\./, "excerpts: ").replace(".", ": ")),
      element("td", value.toLocaleString()));
    body.append(row);
  }
  const features = $("features");
  features.replaceChildren(...Object.entries(info.features).map(([label, count]) =>
    element("li", `${label} (${count.toLocaleString()})`)));
}

function showVerdict(report) {
  const verdict = $("verdict");
  let text;
  let kind;
  if (!report.valid) {
    kind = "bad";
    text = `Not valid: ${report.errors} error${report.errors === 1 ? "" : "s"}` +
      (report.warnings ? ` and ${report.warnings} warning${report.warnings === 1 ? "" : "s"}` : "") +
      ". Programs may refuse this file or lose part of it. Each problem below says how to fix it.";
  } else if (report.warnings) {
    kind = "warn";
    text = `Valid, with ${report.warnings} warning${report.warnings === 1 ? "" : "s"}: programs will open it, ` +
      "but some things may not arrive as you expect.";
  } else {
    kind = "good";
    text = "Valid: it follows the REFI-QDA rules and qdaconv found nothing other programs trip on.";
  }
  verdict.replaceChildren(element("p", text, `verdict ${kind}`));
  const byRule = new Map();
  for (const issue of report.issues) {
    if (!byRule.has(issue.rule)) byRule.set(issue.rule, []);
    byRule.get(issue.rule).push(issue);
  }
  const list = $("issues");
  list.replaceChildren();
  for (const [rule, issues] of byRule) {
    const first = issues[0];
    const box = element("details", null, `issue ${first.severity}`);
    box.open = first.severity === "error";
    const summary = element("summary");
    summary.append(element("span", first.severity, "badge"), " ", element("code", rule), " ",
      issues.length > 1 ? `${issues.length} times` : "");
    box.append(summary);
    const explained = state.rules[rule];
    if (explained) box.append(element("p", `What it means: ${explained.meaning}`));
    for (const issue of issues.slice(0, 5)) {
      box.append(element("p", (issue.place ? `${issue.place}: ` : "") + issue.message, "message"));
    }
    if (issues.length > 5) box.append(element("p", `… and ${issues.length - 5} more of the same kind.`));
    const fix = first.hint || (explained && explained.fix);
    if (fix) box.append(element("p", `How to fix it: ${fix}`));
    list.append(box);
  }
}

// ------------------------------------------------------------------------------------------ step 3

function showTargets(choices) {
  const list = $("target-list");
  list.replaceChildren();
  const card = (value, label, note, extra) => {
    const box = element("label", null, "target");
    const radio = element("input");
    radio.type = "radio";
    radio.name = "target";
    radio.value = value;
    box.append(radio, element("strong", label), element("span", note, "note"));
    if (extra) box.append(extra);
    list.append(box);
    return radio;
  };
  for (const target of choices.targets) card(target.id, target.label, target.note);
  const other = element("select");
  other.id = "other-format";
  other.setAttribute("aria-label", "format");
  for (const fmt of choices.formats) {
    const option = element("option", `${fmt.title} (${fmt.name})`);
    option.value = fmt.name;
    other.append(option);
  }
  const otherRadio = card("other", "another format", "Any format qdaconv writes:", other);
  other.addEventListener("change", () => { otherRadio.checked = true; });
  list.querySelector("input").checked = true;
}

function chosenRequest() {
  const value = new FormData($("targets")).get("target");
  if (value === "other") {
    const name = $("other-format").value;
    return { url: `/api/convert?to=${encodeURIComponent(name)}`, label: `Converting to ${name}` };
  }
  const target = state.choices.targets.find((t) => t.id === value);
  if (target.kind === "tool") return { url: `/api/${target.tool}`, label: `Making the ${target.label}` };
  let url = `/api/convert?to=${encodeURIComponent(target.format)}`;
  if (target.profile) url += `&profile=${encodeURIComponent(target.profile)}`;
  return { url, label: `Converting ${target.label}` };
}

function fileName(request) {
  const disposition = request.getResponseHeader("content-disposition") || "";
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (encoded) return decodeURIComponent(encoded[1]);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain ? plain[1] : "qdaconv-output";
}

function showLosses(request, box = $("losses")) {
  const header = request.getResponseHeader("x-qdaconv-losses");
  box.replaceChildren();
  if (!header) {
    box.append(element("p", "This is a new document made from the study; the study itself is unchanged.", "verdict good"));
    return;
  }
  const report = JSON.parse(header);
  if (report.lossless) {
    box.append(element("p", "Nothing is lost: the target holds everything this study uses.", "verdict good"));
    return;
  }
  box.append(element("p", "The target cannot hold everything. Keep the original file; this is left out:", "verdict warn"));
  const list = element("ul");
  for (const item of report.lost) {
    list.append(element("li", `${item.count.toLocaleString()} ${item.what}` + (item.detail ? ` (${item.detail})` : "")));
  }
  box.append(list);
}

async function convert(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("result").hidden = true;
  $("go").disabled = true;
  const chosen = chosenRequest();
  try {
    const request = await send(chosen.url, chosen.label, true);
    doneProgress();
    showLosses(request);
    if (state.download) URL.revokeObjectURL(state.download);
    state.download = offer($("download"), request.response, fileName(request));
    $("result").hidden = false;
  } catch (error) {
    showError(error.message);
  } finally {
    $("go").disabled = false;
  }
}

// Point the link `link` at `blob`, to be saved as `name`; returns the object URL (to revoke later).
function offer(link, blob, name, label = "Download") {
  const url = URL.createObjectURL(blob);
  link.href = url;
  link.download = name;
  link.textContent = `${label} ${name} (${megabytes(blob.size)})`;
  return url;
}

// Free the downloads a step offered before (`step`: "redact" or "agree"; none: both).
function forgetDownloads(step) {
  for (const name of step ? [step] : Object.keys(state.urls)) {
    for (const url of state.urls[name]) URL.revokeObjectURL(url);
    state.urls[name] = [];
  }
}

// ------------------------------------------------------------------------------------------ step 4

function showRedactTargets(choices) {
  const select = $("redact-target");
  select.replaceChildren();
  const add = (parent, value, label) => {
    const option = element("option", label);
    option.value = value;
    parent.append(option);
  };
  add(select, "", "in the study's own format");
  const programs = element("optgroup");
  programs.label = "for a program";
  for (const target of choices.targets.filter((t) => t.kind === "convert")) {
    add(programs, `${target.format}|${target.profile || ""}`, target.label);
  }
  const formats = element("optgroup");
  formats.label = "in another format";
  for (const fmt of choices.formats) add(formats, `${fmt.name}|`, `${fmt.title} (${fmt.name})`);
  select.append(programs, formats);
}

// The copy can stay in the study's own format only when qdaconv writes it (not a program's export, say).
function ownFormat(name) {
  const select = $("redact-target");
  const own = select.options[0];
  const writable = state.choices.formats.some((fmt) => fmt.name === name);
  own.disabled = !writable;
  own.textContent = writable ? `in the study's own format (${name})` : `not in the study's own format (${name}): ` +
    "qdaconv does not write it";
  select.selectedIndex = writable ? 0 : 1;
}

function redactUrl(log) {
  const [format, profile] = $("redact-target").value.split("|");
  const query = new URLSearchParams();
  if (format) query.set("to", format);
  if (profile) query.set("profile", profile);
  if (log) query.set("log", "1");
  const text = query.toString();
  return "/api/redact" + (text ? `?${text}` : "");
}

function redactFields() {
  return [["terms", $("terms").files[0]], ["placeholder", $("placeholder").value],
    ["include_codes", $("include-codes").checked ? "1" : "0"]];
}

async function redact(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("redact-result").hidden = true;
  if (!$("terms").files[0]) {
    showError("Choose the terms file first: a CSV with the header term,replacement.");
    return;
  }
  $("redact-go").disabled = true;
  forgetDownloads("redact");
  try {
    const request = await send(redactUrl(false), "Making the de-identified copy", true, redactFields());
    showLosses(request, $("redact-losses"));
    const figures = JSON.parse(request.getResponseHeader("x-qdaconv-redaction") || "{}");
    $("redact-figures").textContent = `${(figures.replacements || 0).toLocaleString()} replacements in ` +
      `${(figures.places || 0).toLocaleString()} places. qdaconv searched the whole copy (every file in it, and ` +
      "their names) for every term: none is left.";
    state.urls.redact.push(offer($("redact-download"), request.response, fileName(request)));
    const logLink = $("log-download");
    logLink.hidden = true;
    if ($("want-log").checked) {
      // a second request: the key to the identities never travels in the same answer as the copy
      const logged = await send(redactUrl(true), "Making the log of replacements", true, redactFields());
      state.urls.redact.push(offer(logLink, logged.response, fileName(logged), "Download the log"));
      logLink.hidden = false;
    }
    doneProgress();
    $("redact-result").hidden = false;
  } catch (error) {
    showError(error.message.replace("pass --include codes to redact them too",
      "tick \u201cReplace the terms in code names and descriptions too\u201d to replace them as well"));
  } finally {
    $("redact-go").disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ step 5

function figure(value, digits = 3) {
  return value === null || value === undefined ? "n/a" : value.toFixed(digits);
}

// What `qdaconv agree` notes on the command line, in the page's words.
const PLAIN_NOTES = [
  [/^(\d+) text\(s\) coded by only one of the coders: (.*)$/,
    "$1 text(s) were coded by only one of the two coders, so they are not compared: $2."],
  [/^(\d+) codings on (\w+) sources( in .*)? \(left out\)$/,
    "$1 codings on $2 sources$3 are not compared: agreement is counted on the characters of texts and transcripts."],
  [/^(\d+) (.*) \(left out\)$/, "$1 $2 are not compared."],
  [/; name the pair with --coders$/, "; choose the two coders above to compare others."],
];

function plainNote(note) {
  for (const [pattern, words] of PLAIN_NOTES) {
    if (pattern.test(note)) return note.replace(pattern, words);
  }
  return note;
}

function byKappa(codes) {
  return [...codes].sort((a, b) => {
    const ka = a.characters.kappa;
    const kb = b.characters.kappa;
    if ((ka === null) !== (kb === null)) return ka === null ? 1 : -1;
    if (ka !== kb) return (ka || 0) - (kb || 0);
    return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
  });
}

// The same columns as `qdaconv agree --csv`: one row per code, least agreement first, then all codes together.
function agreementCsv(result) {
  const columns = ["code_guid", "code", "path", "kappa", "percent", "alpha", "characters", "both", "only_a", "only_b",
    "neither", "segments_a", "segments_b", "matched_a", "matched_b", "segment_percent", "segment_kappa"];
  const quote = (value) => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const rows = [...byKappa(result.codes), { ...result.overall, guid: "" }].map((code) => {
    const c = code.characters;
    const s = code.segments;
    return [code.guid, code.name, code.path, c.kappa, c.percent, code.alpha, c.characters, c.both, c.only_a, c.only_b,
      c.neither, s.segments_a, s.segments_b, s.matched_a, s.matched_b, s.percent, s.kappa].map(quote).join(",");
  });
  return [columns.join(","), ...rows].join("\n") + "\n";
}

function showAgreement(result) {
  const [a, b] = result.coders;
  const overall = result.overall;
  const facts = $("agree-overall");
  facts.replaceChildren();
  const characters = result.sources.reduce((sum, source) => sum + source.characters, 0);
  for (const [term, value] of [
    ["Coders", `${a} (A) and ${b} (B)`],
    ["Compared", `${result.sources.length} texts both coded (${characters.toLocaleString()} characters), ` +
      `${result.codes.length} codes`],
    ["Cohen's kappa", figure(overall.characters.kappa)],
    ["Characters agreeing", `${figure(overall.characters.percent, 1)}%`],
    ["Krippendorff's alpha", figure(overall.alpha)],
    ["Segments matched", `${figure(overall.segments.percent, 1)}% (overlapping by at least ` +
      `${Math.round(result.overlap * 100)}%), segment kappa ${figure(overall.segments.kappa)}`],
  ]) facts.append(element("dt", term), element("dd", value));
  const notes = $("agree-notes");
  notes.replaceChildren();
  if (result.left_out.length) {
    notes.append(element("p", "Left out of the comparison:", "verdict warn"));
    notes.append(element("ul"));
    for (const note of result.left_out) notes.lastChild.append(element("li", plainNote(note)));
  }
  const body = document.querySelector("#agree-table tbody");
  body.replaceChildren();
  for (const code of byKappa(result.codes)) {
    const row = element("tr");
    row.append(element("th", code.path), element("td", figure(code.characters.kappa)),
      element("td", figure(code.characters.percent, 1)), element("td", figure(code.alpha)),
      element("td", figure(code.segments.percent, 1)), element("td", code.characters.only_a.toLocaleString()),
      element("td", code.characters.only_b.toLocaleString()), element("td", code.characters.both.toLocaleString()));
    body.append(row);
  }
  const stem = state.file.name.replace(/\.[^.]*$/, "");
  forgetDownloads("agree");
  state.urls.agree.push(offer($("agree-csv"), new Blob([agreementCsv(result)], { type: "text/csv" }),
    `${stem}-agreement.csv`, "Download the table"));
  state.urls.agree.push(offer($("agree-json"), new Blob([JSON.stringify(result, null, 2)], { type: "application/json" }),
    `${stem}-agreement.json`, "Download every figure"));
  $("agree-result").hidden = false;
}

async function loadCoders() {
  const note = $("coders-note");
  note.textContent = "";
  const found = (await send("/api/coders", `Finding the coders in ${state.file.name}`, false)).response.coders;
  state.coders = found;
  for (const [id, preferred] of [["coder-a", 0], ["coder-b", 1]]) {
    const select = $(id);
    select.replaceChildren();
    for (const coder of found) {
      const option = element("option", `${coder.name} (${coder.codings.toLocaleString()} codings)`);
      option.value = coder.guid;
      select.append(option);
    }
    if (found.length > preferred) select.selectedIndex = preferred;
  }
  const enough = found.length >= 2;
  $("mode-users").disabled = !enough;
  if (!enough) {
    $("mode-files").checked = true;
    note.textContent = found.length ? `Only ${found[0].name} made codings in this study: choose the other coder's ` +
      "file below." : "Nobody is named as the maker of this study's codings: choose the other coder's file below.";
  }
}

async function agree(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("agree-result").hidden = true;
  const extra = [["overlap", $("overlap").value]];
  if ($("mode-files").checked) {
    if (!$("file2").files[0]) {
      showError("Choose the other coder's file first (or compare two coders in this study).");
      return;
    }
    extra.push(["file2", $("file2").files[0]]);
  } else {
    extra.push(["coders", `${$("coder-a").value},${$("coder-b").value}`]);
  }
  $("agree-go").disabled = true;
  try {
    const request = await send("/api/agree", "Comparing the coders", false, extra);
    doneProgress();
    showAgreement(request.response);
  } catch (error) {
    showError(error.message);
  } finally {
    $("agree-go").disabled = false;
  }
}

// ------------------------------------------------------------------------------------------ step 1

async function choose(file) {
  if (!file) return;
  state.file = file;
  $("error").hidden = true;
  $("seen").hidden = true;
  $("convert").hidden = true;
  $("result").hidden = true;
  for (const id of ["redact", "redact-result", "agree", "agree-result"]) $(id).hidden = true;
  forgetDownloads();
  if (file.size > state.choices.max_upload) {
    showError(`${file.name} is ${megabytes(file.size)}; this server accepts up to ${megabytes(state.choices.max_upload)}. ` +
      "Start it again with `qdaconv serve --max-upload MB` to allow more.");
    return;
  }
  try {
    const info = await send("/api/info", `Reading ${file.name}`, false);
    showInfo(info.response);
    ownFormat(info.response.format);
    const checked = await send("/api/validate", `Checking ${file.name}`, false);
    showVerdict(checked.response[0]);
    await loadCoders();
    doneProgress();
    $("seen").hidden = false;
    $("convert").hidden = false;
    $("redact").hidden = false;
    $("agree").hidden = false;
  } catch (error) {
    showError(error.message);
  }
}

async function start() {
  const [choices, rules] = await Promise.all([
    fetch("/api/targets").then((r) => r.json()),
    fetch("/api/rules").then((r) => r.json()),
  ]);
  state.choices = choices;
  state.rules = rules;
  $("limit").textContent = `Up to ${megabytes(choices.max_upload)}.`;
  $("version").textContent = `qdaconv ${choices.version}, running on this computer only.`;
  showTargets(choices);
  showRedactTargets(choices);
  const input = $("file");
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = ""; // so that choosing the same file again (after editing it) is seen
    choose(file);
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
  $("targets").addEventListener("submit", convert);
  $("redact-form").addEventListener("submit", redact);
  $("agree-form").addEventListener("submit", agree);
  $("file2").addEventListener("change", () => { $("mode-files").checked = true; });
  for (const id of ["coder-a", "coder-b"]) {
    $(id).addEventListener("change", () => { if (!$("mode-users").disabled) $("mode-users").checked = true; });
  }
  document.body.dataset.ready = "true";
}

start().catch((error) => showError(`The page could not start: ${error.message}`));
