"use strict";
// The report's behaviour. Every value from the scan (paths, reasons, dates) reaches
// the page through textContent or an attribute set from script, never as HTML, so a
// file named "<img onerror=...>.jpg" is shown as the text it is.

const data = JSON.parse(document.getElementById("scan-data").textContent);
const BATCH = 60; // groups added to the page at a time, as the reader scrolls
const choices = data.groups.map(() => ({ keep: 0, ticked: true }));
let shown = []; // indices of the groups that pass the filter, in order
let rendered = 0; // how many of `shown` are on the page

function element(tag, properties = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(properties)) {
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  for (const unit of ["KiB", "MiB", "GiB"]) {
    if (value < 1024 || unit === "GiB") return `${value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
}

// The distance between two members of a group, when the scan measured it: the
// distances to the scan's keeper and every near-duplicate pair. Others are further
// apart than the threshold (linked through a third photo), so they show as such.
function distance(group, i, j) {
  if (!group.known) {
    group.known = new Map();
    for (const [a, b, d] of group.distances) {
      group.known.set(`${a} ${b}`, d);
      group.known.set(`${b} ${a}`, d);
    }
  }
  const d = group.known.get(`${i} ${j}`);
  return d === undefined ? null : d;
}

// The member that member m is paired with on a shortest chain of near-duplicate pairs
// to the keeper, or null when m and the keeper are a pair themselves: a group holds
// every photo paired with any member, so some are near-duplicates of another member only.
function via(group, keep, m) {
  const step = new Map([[keep, keep]]);
  let frontier = [keep];
  while (frontier.length && !step.has(m)) {
    const following = [];
    for (const i of frontier) {
      for (const [a, b] of group.pairs) {
        const j = a === i ? b : b === i ? a : null;
        if (j !== null && !step.has(j)) {
          step.set(j, i);
          following.push(j);
        }
      }
    }
    frontier = following;
  }
  const before = step.get(m);
  return before === undefined || before === keep ? null : before;
}

// Whether members i and j hold the same bytes (whichever of them is the keeper).
function identical(group, i, j) {
  return group.identical.some(([a, b]) => (a === i && b === j) || (a === j && b === i));
}

function spaceFreed() {
  let bytes = 0;
  let count = 0;
  data.groups.forEach((group, index) => {
    if (!choices[index].ticked) return;
    group.members.forEach((member, m) => {
      if (m !== choices[index].keep) {
        bytes += member.size;
        count += 1;
      }
    });
  });
  return { bytes, count };
}

function renderSummary() {
  const freed = spaceFreed();
  const rows = [
    ["Photos scanned", data.photos.toLocaleString()],
    ["Groups", data.groups.length.toLocaleString()],
    ["Duplicates to move", freed.count.toLocaleString()],
    ["Space freed by moving them", humanSize(freed.bytes)],
    ["Skipped", data.skipped.length.toLocaleString()],
    ["Metric", `${data.metric}, below ${data.threshold}`],
    ["Compared", data.bucketer ? `within ${data.bucketer} buckets` : "every photo with every other"],
    ["Scanned", data.roots.join(", ")],
    ["Report made", data.generated],
  ];
  const summary = document.getElementById("summary");
  summary.replaceChildren(
    ...rows.map(([term, value]) =>
      element("div", {}, element("dt", { text: term }), element("dd", { text: value })),
    ),
  );
}

function renderSkipped() {
  if (!data.skipped.length) return;
  const box = document.getElementById("skipped");
  box.hidden = false;
  box.querySelector("summary").textContent = `${data.skipped.length} files skipped, and why`;
  box.querySelector("ul").replaceChildren(
    ...data.skipped.map((item) => element("li", { text: `${item.shown}: ${item.reason}` })),
  );
}

function photoCard(group, index, m) {
  const member = group.members[m];
  const keep = choices[index].keep;
  const card = element("button", {
    type: "button",
    className: m === keep ? "photo keep" : "photo",
    "aria-pressed": String(m === keep),
    title: `${member.shown}\nClick to keep this photo`,
    "data-member": String(m),
  });
  if (movedTo.has(member.path)) card.classList.add("moved");
  const frame = element("div", { className: "frame" });
  if (member.thumbnail) {
    frame.append(
      element("img", {
        src: member.thumbnail.src,
        width: String(member.thumbnail.width),
        height: String(member.thumbnail.height),
        loading: "lazy",
        decoding: "async",
        alt: member.shown,
      }),
    );
  } else {
    frame.append(element("span", { className: "problem", text: `No thumbnail: ${member.problem}` }));
  }
  let role = "Keep";
  if (movedTo.has(member.path)) role = `Moved to ${movedTo.get(member.path)}`;
  else if (m !== keep) {
    const d = distance(group, keep, m);
    role = d === null ? `Distance ≥ ${data.threshold}` : `Distance ${d.toFixed(4)}`;
    const through = via(group, keep, m);
    if (identical(group, keep, m)) role += " · identical copy";
    else if (through !== null) role += ` · via ${group.members[through].shown}`;
  }
  card.append(
    frame,
    element("span", { className: "role", text: role }),
    element("span", {
      text: `${member.width} × ${member.height} · ${humanSize(member.size)} · ${member.format}`,
    }),
    element("span", { className: "taken", text: member.taken ? `Taken ${member.taken}` : "No capture date" }),
    element("span", { className: "path", text: member.shown }),
  );
  card.addEventListener("click", () => {
    choices[index].keep = m;
    redrawGroup(index);
    renderSummary();
  });
  return card;
}

function groupItem(index) {
  const group = data.groups[index];
  const choice = choices[index];
  const tick = element("input", { type: "checkbox", className: "tick" });
  tick.checked = choice.ticked;
  tick.addEventListener("change", () => {
    choice.ticked = tick.checked;
    item.classList.toggle("unticked", !choice.ticked);
    renderSummary();
  });
  const title = element(
    "h2",
    {},
    element(
      "label",
      {},
      tick,
      ` Group ${index + 1}: ${group.members.length} photos, closest ${group.closest.toFixed(4)} — move the duplicates`,
    ),
  );
  const row = element("div", { className: "photos" });
  group.members.forEach((_, m) => row.append(photoCard(group, index, m)));
  const item = element("li", { className: choice.ticked ? "group" : "group unticked", "data-group": String(index) }, title, row);
  if (typeof decorateGroup === "function") decorateGroup(item, index); // compare.js
  return item;
}

function redrawGroup(index) {
  const old = document.querySelector(`li[data-group="${index}"]`);
  if (old) old.replaceWith(groupItem(index));
}

function matches(group) {
  const text = document.getElementById("filter-text").value.trim().toLowerCase();
  const most = parseFloat(document.getElementById("filter-distance").value);
  if (!Number.isNaN(most) && group.spread > most) return false;
  return !text || group.members.some((member) => member.shown.toLowerCase().includes(text));
}

function applyFilter() {
  shown = [];
  data.groups.forEach((group, index) => {
    if (matches(group)) shown.push(index);
  });
  rendered = 0;
  document.getElementById("groups").replaceChildren();
  const empty = document.getElementById("empty");
  empty.hidden = shown.length > 0;
  empty.textContent = data.groups.length
    ? "No group matches the filter."
    : "No near-duplicates were found.";
  document.getElementById("shown-count").textContent =
    `${shown.length.toLocaleString()} of ${data.groups.length.toLocaleString()} groups shown`;
  renderMore();
}

const more = document.getElementById("more");
const nearTheEnd = new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) renderMore();
}, { rootMargin: "1500px" });

function renderMore() {
  const list = document.getElementById("groups");
  const next = shown.slice(rendered, rendered + BATCH);
  list.append(...next.map(groupItem));
  rendered += next.length;
  // Observing anew reports at once whether the end is still in view (a tall window).
  nearTheEnd.unobserve(more);
  if (rendered < shown.length) nearTheEnd.observe(more);
}

function setShownTicks(ticked) {
  for (const index of shown) choices[index].ticked = ticked;
  document.querySelectorAll("li.group").forEach((item) => {
    item.classList.toggle("unticked", !ticked);
    item.querySelector("input.tick").checked = ticked;
  });
  renderSummary();
}

// The plan has the JSON sink's schema for groups (keep, duplicates, distances), with
// absolute paths so that `simplugin apply` works from any folder, and each file's size
// and modification time as the scan saw them, so that a file changed since is left alone.
function plan() {
  const groups = [];
  const files = {};
  data.groups.forEach((group, index) => {
    const { keep, ticked } = choices[index];
    if (!ticked) return;
    const others = group.members
      .map((member, m) => ({ path: member.path, d: distance(group, keep, m), m }))
      .filter((other) => other.m !== keep)
      .sort((a, b) => (a.d ?? Infinity) - (b.d ?? Infinity));
    for (const member of group.members) {
      files[member.path] = { size: member.size, mtime_ns: member.mtimeNs };
    }
    groups.push({
      keep: group.members[keep].path,
      duplicates: others.map((other) => other.path),
      distances: others.map((other) => other.d),
    });
  });
  return {
    version: data.version,
    format: "simplugin-plan",
    metric: data.metric,
    threshold: data.threshold,
    bucketer: data.bucketer,
    roots: data.absoluteRoots,
    protect: data.protect,
    groups,
    files,
  };
}

function exportPlan() {
  const blob = new Blob([JSON.stringify(plan(), null, 2) + "\n"], { type: "application/json" });
  const link = element("a", { href: URL.createObjectURL(blob), download: "simplugin-plan.json" });
  document.body.append(link);
  link.click();
  link.remove();
}

// --- Served by `simplugin review`: the local server moves and undoes -------------------
// The page talks only to the server it came from (its policy: connect-src 'self'),
// naming the token in its own address. It sends the plan that Export plan would save
// and the folder to move into; an Undo names the action by the id the server gave.

const movedTo = new Map(); // each file moved from the page: where it went
let proposedFolder = "";

async function ask(action, request) {
  const token = location.pathname.split("/")[1];
  const response = await fetch(`/${token}/api/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Simplugin-Token": token },
    body: JSON.stringify(request),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

// The server stops once the page has been silent for a while: the page was closed.
async function heartbeat() {
  try {
    const answer = await ask("heartbeat", {});
    proposedFolder = answer.proposedFolder;
    setTimeout(heartbeat, answer.every * 1000);
  } catch (error) {
    showOutcome([`The review server has stopped (${error.message}): run simplugin review again.`]);
  }
}

function showOutcome(lines, action = null) {
  const box = document.getElementById("outcome");
  box.hidden = false;
  box.replaceChildren(element("pre", { text: lines.join("\n") || "Nothing to do." }));
  if (action) {
    const undo = element("button", { type: "button", text: "Undo this move" });
    undo.addEventListener("click", () => undoMove(action));
    box.append(undo);
  }
}

function redrawShown() {
  document.querySelectorAll("li.group").forEach((item) => redrawGroup(Number(item.dataset.group)));
}

async function moveToFolder() {
  const folder = prompt("Move the duplicates of the ticked groups into this folder:", proposedFolder);
  if (!folder) return;
  try {
    const answer = await ask("move", { plan: plan(), folder });
    for (const { source, target } of answer.moved) movedTo.set(source, target);
    redrawShown();
    showOutcome(answer.lines, answer.action);
  } catch (error) {
    showOutcome([`Nothing was moved: ${error.message}`]);
  }
}

async function undoMove(action) {
  try {
    const answer = await ask("undo", { action });
    for (const path of answer.back) movedTo.delete(path);
    redrawShown();
    showOutcome(answer.lines);
  } catch (error) {
    showOutcome([`Nothing was put back: ${error.message}`]);
  }
}

function startServed() {
  const move = element("button", { id: "move-to-folder", type: "button", text: "Move to folder…" });
  move.addEventListener("click", moveToFolder);
  document.getElementById("export").after(move);
  document.getElementById("controls").append(element("section", { id: "outcome", "aria-live": "polite", hidden: "" }));
  heartbeat();
}

// --- start --------------------------------------------------------------------------------

if (data.served) startServed();
renderSummary();
renderSkipped();
document.getElementById("filter-text").addEventListener("input", applyFilter);
document.getElementById("filter-distance").addEventListener("input", applyFilter);
document.getElementById("tick-shown").addEventListener("click", () => setShownTicks(true));
document.getElementById("untick-shown").addEventListener("click", () => setShownTicks(false));
document.getElementById("export").addEventListener("click", exportPlan);
applyFilter();
