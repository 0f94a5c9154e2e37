"use strict";
// The report's behaviour. Every value from the scan (paths, reasons, dates) reaches
// the page through textContent or an attribute set from script, never as HTML, so a
// file named "<img onerror=...>.jpg" is shown as the text it is.

const data = JSON.parse(document.getElementById("scan-data").textContent);
const BATCH = 20; // groups added at a time, as the reader scrolls: a few screens (a filter redraws one batch)
// Per group: the keeper, whether it is ticked, whether it was marked "not a duplicate"
// (hidden, left out of everything), and the photos marked not duplicates of the rest.
const choices = data.groups.map(() => ({ keep: 0, ticked: true, apart: false, apartPhotos: [] }));
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

// --- Choices survive a reload: kept in the browser (localStorage), under a key made of
// what the report shows (each photo's path, size and modification time), so that a
// report of other photos, or of photos changed since, starts afresh.

function reportKey() {
  const identity = JSON.stringify(data.groups.map((g) => g.members.map((m) => [m.path, m.size, m.mtimeNs])));
  let hash = 0x811c9dc5; // FNV-1a, 32 bits, twice (two seeds): a key, not a secret
  let other = 0x01000193;
  for (let i = 0; i < identity.length; i++) {
    const c = identity.charCodeAt(i);
    hash = Math.imul(hash ^ c, 0x01000193);
    other = Math.imul(other ^ c, 0x5bd1e995);
  }
  return `simplugin-review:${(hash >>> 0).toString(16)}${(other >>> 0).toString(16)}`;
}
const storageKey = reportKey();

function saveChoices() {
  const changed = {}; // only the groups whose choices differ from the report's
  choices.forEach((choice, index) => {
    if (choice.keep || !choice.ticked || choice.apart || choice.apartPhotos.length) changed[index] = choice;
  });
  try {
    localStorage.setItem(storageKey, JSON.stringify(changed));
  } catch (error) {
    // storage full or refused (a private window): the choices last as long as the page
  }
}

function restoreChoices() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(storageKey) || "{}") || {};
  } catch (error) {
    return;
  }
  for (const [index, choice] of Object.entries(saved)) {
    const group = data.groups[Number(index)];
    if (!group) continue;
    const size = group.members.length;
    const valid = (m) => Number.isInteger(m) && m >= 0 && m < size;
    Object.assign(choices[Number(index)], {
      keep: valid(choice.keep) ? choice.keep : 0,
      ticked: choice.ticked !== false,
      apart: choice.apart === true,
      apartPhotos: Array.isArray(choice.apartPhotos) ? choice.apartPhotos.filter(valid) : [],
    });
  }
}

// A choice changed: remember it, and count again.
function choicesChanged() {
  saveChoices();
  renderSummary();
  renderUnmark();
}

// "Show again": a mark "not a duplicate" made by mistake is not for ever on this page
// (the served page has recorded it in the ignore list, which `simplugin ignore --forget` edits).
function renderUnmark() {
  const marked = choices.filter((c) => c.apart || c.apartPhotos.length).length;
  const button = document.getElementById("unmark");
  button.hidden = marked === 0;
  button.textContent = `Show the ${marked} group${marked === 1 ? "" : "s"} marked not a duplicate again`;
  if (data.served) button.textContent += " (on this page: the ignore list keeps them until simplugin ignore --forget)";
}

function unmarkAll() {
  for (const choice of choices) Object.assign(choice, { apart: false, apartPhotos: [] });
  applyFilter();
  choicesChanged();
}

// The members of a group still in it: not those marked "not a duplicate of the others".
function inGroup(index, m) {
  return !choices[index].apartPhotos.includes(m);
}

// What the plan would move: the ticked groups among those shown (a group the filter
// hides is left out, as are photos marked not duplicates).
function spaceFreed() {
  let bytes = 0;
  let count = 0;
  for (const index of shown) {
    if (!choices[index].ticked) continue;
    data.groups[index].members.forEach((member, m) => {
      if (m !== choices[index].keep && inGroup(index, m)) {
        bytes += member.size;
        count += 1;
      }
    });
  }
  return { bytes, count };
}

function renderSummary() {
  const freed = spaceFreed();
  const rows = [
    ["Photos scanned", data.photos.toLocaleString()],
    ["Groups shown", `${shown.length.toLocaleString()} of ${data.groups.length.toLocaleString()}`],
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

// A path that may wrap after "/", "_", "-" or "." (a <wbr> there), so that a long name
// breaks between its parts rather than in the middle of a word.
function breakablePath(text) {
  const span = element("span", { className: "path" });
  for (const part of text.split(/(?<=[/_\-.])/)) span.append(part, element("wbr"));
  return span;
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
    breakablePath(member.shown),
  );
  card.addEventListener("click", () => {
    choices[index].keep = m;
    redrawGroup(index);
    choicesChanged();
  });
  return card;
}

// "Not a duplicate": the group (apart === null) or one photo of it, marked as no
// duplicate of the others. The served page records it in the ignore list, as
// `simplugin ignore` does; the static page leaves it out of the plan.
async function markNotADuplicate(index, apart = null) {
  if (data.served) {
    try {
      const answer = await ask("not-a-duplicate", apart === null ? { group: index } : { group: index, apart });
      showOutcome(answer.lines);
      if (answer.code !== 0) return;
    } catch (error) {
      showOutcome([`Nothing was recorded: ${error.message}`]);
      return;
    }
  }
  const choice = choices[index];
  if (apart === null) choice.apart = true;
  else choice.apartPhotos.push(apart);
  const left = data.groups[index].members.map((_, m) => m).filter((m) => inGroup(index, m));
  if (left.length < 2) choice.apart = true;
  else if (!left.includes(choice.keep)) choice.keep = left[0];
  if (choice.apart) {
    const item = document.querySelector(`li[data-group="${index}"]`);
    if (item) {
      item.remove();
      rendered -= 1;
    }
    shown = shown.filter((i) => i !== index);
    renderShownCount();
  } else {
    redrawGroup(index);
  }
  choicesChanged();
}

function notADuplicateButton(index, apart, text) {
  const button = element("button", { type: "button", className: "not-duplicate", text });
  if (!data.served) {
    button.title = "Leaves it out of the plan; to leave it out of later scans too: simplugin ignore PHOTO PHOTO…";
  }
  button.addEventListener("click", () => markNotADuplicate(index, apart));
  return button;
}

function groupItem(index) {
  const group = data.groups[index];
  const choice = choices[index];
  const tick = element("input", { type: "checkbox", className: "tick" });
  tick.checked = choice.ticked;
  tick.addEventListener("change", () => {
    choice.ticked = tick.checked;
    item.classList.toggle("unticked", !choice.ticked);
    choicesChanged();
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
  title.append(" ", notADuplicateButton(index, null, "Not a duplicate"));
  const row = element("div", { className: "photos" });
  group.members.forEach((_, m) => {
    if (!inGroup(index, m)) return;
    row.append(element("div", { className: "member" }, photoCard(group, index, m), notADuplicateButton(index, m, "Not a duplicate of the others")));
  });
  const item = element("li", { className: choice.ticked ? "group" : "group unticked", "data-group": String(index) }, title, row);
  if (typeof decorateGroup === "function") decorateGroup(item, index); // compare.js
  return item;
}

function redrawGroup(index) {
  const old = document.querySelector(`li[data-group="${index}"]`);
  if (old) old.replaceWith(groupItem(index));
}

function matches(group, { text, most } = filterValues()) {
  if (!Number.isNaN(most) && group.spread > most) return false;
  return !text || group.members.some((member) => member.shown.toLowerCase().includes(text));
}

// The filter's values, read once per filtering, not once per group.
function filterValues() {
  return {
    text: document.getElementById("filter-text").value.trim().toLowerCase(),
    most: parseFloat(document.getElementById("filter-distance").value),
  };
}

function renderShownCount() {
  document.getElementById("shown-count").textContent =
    `${shown.length.toLocaleString()} of ${data.groups.length.toLocaleString()} groups shown`;
}

function applyFilter() {
  const filter = filterValues();
  shown = [];
  data.groups.forEach((group, index) => {
    if (!choices[index].apart && matches(group, filter)) shown.push(index);
  });
  rendered = 0;
  document.getElementById("groups").replaceChildren();
  const empty = document.getElementById("empty");
  empty.hidden = shown.length > 0;
  empty.textContent = data.groups.length
    ? "No group matches the filter."
    : "No near-duplicates were found.";
  renderShownCount();
  renderSummary();
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
  choicesChanged();
}

// The plan has the JSON sink's schema for groups (keep, duplicates, distances), with
// absolute paths so that `simplugin apply` works from any folder, and each file's size
// and modification time as the scan saw them, so that a file changed since is left alone.
// Only the groups shown: a group the filter hides is left out, as spaceFreed counts.
function plan() {
  const groups = [];
  const files = {};
  for (const index of shown) {
    const group = data.groups[index];
    const { keep, ticked } = choices[index];
    if (!ticked) continue;
    const others = group.members
      .map((member, m) => ({ path: member.path, d: distance(group, keep, m), m }))
      .filter((other) => other.m !== keep && inGroup(index, other.m))
      .sort((a, b) => (a.d ?? Infinity) - (b.d ?? Infinity));
    for (const member of group.members) {
      files[member.path] = { size: member.size, mtime_ns: member.mtimeNs };
    }
    groups.push({
      keep: group.members[keep].path,
      duplicates: others.map((other) => other.path),
      distances: others.map((other) => other.d),
    });
  }
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

// The server stops once the page has been silent for a while: the page was closed. A
// heartbeat that does not get through (a blip) is tried again every half second: the page
// says it is reconnecting, and that the server has stopped only once it has been
// unreachable for longer than the server waits (four beats), or answers with a refusal.
let beatEvery = 30; // seconds, until the server says (it waits four times that)
let unreachableSince = null;

async function heartbeat() {
  const status = document.getElementById("connection");
  let answer;
  try {
    answer = await ask("heartbeat", {});
  } catch (error) {
    const refused = !(error instanceof TypeError); // the server answered: it is not this one any more
    unreachableSince ??= Date.now();
    status.hidden = false;
    if (refused || Date.now() - unreachableSince > beatEvery * 4 * 1000) {
      status.textContent = `The review server has stopped (${error.message}): run simplugin review again.`;
      return;
    }
    status.textContent = "Reconnecting to the review server…";
    setTimeout(heartbeat, Math.min(beatEvery, 0.5) * 1000);
    return;
  }
  unreachableSince = null;
  status.hidden = true;
  beatEvery = answer.every;
  proposedFolder = answer.proposedFolder;
  setTimeout(heartbeat, beatEvery * 1000);
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
  const folder = prompt("Move the duplicates of the ticked groups shown into this folder:", proposedFolder);
  if (folder) await moveDuplicates("move", { plan: plan(), folder });
}

async function moveToTrash() {
  const { count } = spaceFreed();
  if (confirm(`Send the ${count} duplicate${count === 1 ? "" : "s"} of the ticked groups shown to the trash?`)) {
    await moveDuplicates("trash", { plan: plan() });
  }
}

// A move (to a folder or to the trash): the server runs `simplugin apply` on the plan.
async function moveDuplicates(action, request) {
  try {
    const answer = await ask(action, request);
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
  const toTrash = element("button", { id: "move-to-trash", type: "button", text: "Move to trash" });
  toTrash.addEventListener("click", moveToTrash);
  document.getElementById("export").after(move, toTrash);
  document.querySelector("#controls .help").replaceChildren(
    "Click a photo to keep it instead of the marked one; untick a group to leave it as it is. Only the" +
      " ticked groups shown count: a group the filter hides is left out. Your choices are kept in this" +
      " browser until the report changes. Then Move to folder… or Move to trash: files changed since the" +
      " scan are left alone, and Undo puts back what moved. (Export plan writes the same choices for" +
      " simplugin apply.)",
  );
  document.getElementById("controls").append(
    element("p", { id: "connection", role: "status", hidden: "" }),
    element("section", { id: "outcome", "aria-live": "polite", hidden: "" }),
  );
  heartbeat();
}

// --- start --------------------------------------------------------------------------------

restoreChoices();
document.getElementById("untick-shown").after(element("button", { id: "unmark", type: "button", hidden: "" }));
document.getElementById("unmark").addEventListener("click", unmarkAll);
renderUnmark();
if (data.served) startServed();
renderSummary();
renderSkipped();
document.getElementById("filter-text").addEventListener("input", applyFilter);
document.getElementById("filter-distance").addEventListener("input", applyFilter);
document.getElementById("tick-shown").addEventListener("click", () => setShownTicks(true));
document.getElementById("untick-shown").addEventListener("click", () => setShownTicks(false));
document.getElementById("export").addEventListener("click", exportPlan);
applyFilter();
