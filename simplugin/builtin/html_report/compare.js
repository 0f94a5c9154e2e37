// --- The compare view: a group's photos side by side at full size ----------------------
// Each photo is shown whole (fit) or at 100 % (one photo pixel per CSS pixel), and
// panning one pans all: they follow by fraction of the way across, so a photo and its
// smaller export show the same spot. Flip shows one photo at a time in one frame, the
// quickest way to see which of two is sharper. The figures under each photo come from
// the scan data: resolution, file size, capture time, camera, and sharpness (the
// variance of the Laplacian at 1,024 pixels, as `--keep sharpest` ranks photos).

const comparing = { index: null, zoomed: false, flip: null, pair: [0, 1], opener: null };

function decorateGroup(item, index) {
  const open = element("button", {
    type: "button",
    className: "compare-open",
    text: "Compare",
    title: "Compare the photos side by side at full size (key c)",
  });
  open.addEventListener("click", () => openCompare(index));
  item.querySelector("h2").append(" ", open);
}

function compareButton(text, action) {
  const button = element("button", { type: "button", text });
  button.addEventListener("click", action);
  return button;
}

function openCompare(index) {
  const opener = comparing.index === null ? document.activeElement : comparing.opener;
  closeCompare(false);
  const group = data.groups[index];
  Object.assign(comparing, { index, zoomed: false, flip: null, pair: [0, 1], opener });
  const view = element("div", {
    id: "compare",
    role: "dialog",
    "aria-modal": "true",
    "aria-label": `Compare group ${index + 1}`,
    tabindex: "-1",
  });
  const bar = element(
    "div",
    { className: "compare-bar" },
    element("strong", { text: `Group ${index + 1}: ${group.members.length} photos` }),
    compareButton("Fit / 100 % (z)", toggleZoom),
    compareButton("Flip (f)", flipPhotos),
    compareButton("Side by side (s)", () => showFlip(null)),
    compareButton("Close (Esc)", () => closeCompare()),
  );
  const panes = element("div", { className: "panes" });
  group.members.forEach((_, m) => panes.append(comparePane(group, index, m)));
  view.append(bar, panes);
  document.body.append(view);
  document.body.classList.add("comparing");
  view.focus();
}

function sharpestOf(group) {
  const figures = group.members.map((member) => member.sharpness ?? -1);
  return figures.indexOf(Math.max(...figures));
}

function compareFacts(group, m) {
  const member = group.members[m];
  const sharpness =
    member.sharpness === null || member.sharpness === undefined
      ? "Sharpness unknown"
      : `Sharpness ${Math.round(member.sharpness).toLocaleString()}` +
        (m === sharpestOf(group) && group.members.length > 1 ? " (sharpest)" : "");
  return [
    `${member.width} × ${member.height}`,
    humanSize(member.size),
    member.taken ? `Taken ${member.taken}` : "No capture date",
    member.camera || "Camera not recorded",
    sharpness,
  ];
}

function comparePane(group, index, m) {
  const member = group.members[m];
  const viewport = element("div", { className: "viewport" });
  if (member.full) {
    viewport.append(
      element("img", {
        src: member.full.src,
        alt: member.shown,
        draggable: "false",
        "data-width": String(member.width),
      }),
    );
  } else {
    viewport.append(element("span", { className: "problem", text: `No preview: ${member.problem}` }));
  }
  viewport.addEventListener("scroll", () => followPan(viewport));
  viewport.addEventListener("pointerdown", (event) => startPan(viewport, event));
  const kept = m === choices[index].keep;
  const keep = compareButton(kept ? "Kept" : "Keep this one", () => keepFromCompare(index, m));
  keep.disabled = kept;
  const caption = element(
    "figcaption",
    {},
    element("span", { className: "number", text: `${m + 1}` }),
    keep,
    element("ul", { className: "facts" }, ...compareFacts(group, m).map((f) => element("li", { text: f }))),
    element("span", { className: "path", text: member.shown }),
  );
  return element("figure", { className: kept ? "pane keep" : "pane", "data-member": String(m) }, viewport, caption);
}

// The card's own click makes the keeper, so the page's rules (and counts) apply as ever.
function keepFromCompare(index, m) {
  const card = document.querySelector(`li[data-group="${index}"] .photo[data-member="${m}"]`);
  if (card) card.click();
  else choices[index].keep = m;
  document.querySelectorAll("#compare .pane").forEach((pane) => {
    const kept = Number(pane.dataset.member) === choices[index].keep;
    pane.classList.toggle("keep", kept);
    const button = pane.querySelector("figcaption button");
    button.textContent = kept ? "Kept" : "Keep this one";
    button.disabled = kept;
  });
}

function closeCompare(restoreFocus = true) {
  const view = document.getElementById("compare");
  if (!view) return;
  view.remove();
  document.body.classList.remove("comparing");
  const opener = comparing.opener;
  comparing.index = null;
  if (restoreFocus && opener && opener.isConnected) opener.focus();
}

function viewports() {
  return Array.from(document.querySelectorAll("#compare .viewport"));
}

function toggleZoom() {
  const view = document.getElementById("compare");
  comparing.zoomed = !comparing.zoomed;
  view.classList.toggle("zoomed", comparing.zoomed);
  for (const image of view.querySelectorAll(".viewport img")) {
    image.style.width = comparing.zoomed ? `${image.dataset.width}px` : "";
  }
  if (comparing.zoomed) panTo(0.5, 0.5); // the middle of each photo
}

// How far across (0..1) a viewport is scrolled, and scrolling every one there.
function panOf(viewport) {
  const across = viewport.scrollWidth - viewport.clientWidth;
  const down = viewport.scrollHeight - viewport.clientHeight;
  return [across > 0 ? viewport.scrollLeft / across : 0.5, down > 0 ? viewport.scrollTop / down : 0.5];
}

function panTo(x, y, except = null) {
  for (const viewport of viewports()) {
    if (viewport === except) continue;
    const left = x * (viewport.scrollWidth - viewport.clientWidth);
    const top = y * (viewport.scrollHeight - viewport.clientHeight);
    // Only a real change: the followers' own scroll events then end here.
    if (Math.abs(viewport.scrollLeft - left) >= 1) viewport.scrollLeft = left;
    if (Math.abs(viewport.scrollTop - top) >= 1) viewport.scrollTop = top;
  }
}

function followPan(viewport) {
  if (!comparing.zoomed || viewport.offsetParent === null) return; // a hidden pane follows only
  panTo(...panOf(viewport), viewport);
}

function startPan(viewport, event) {
  if (!comparing.zoomed || event.button !== 0) return;
  event.preventDefault();
  viewport.setPointerCapture(event.pointerId);
  let last = [event.clientX, event.clientY];
  const move = (moved) => {
    viewport.scrollBy(last[0] - moved.clientX, last[1] - moved.clientY);
    last = [moved.clientX, moved.clientY];
  };
  const stop = () => {
    viewport.removeEventListener("pointermove", move);
    viewport.removeEventListener("pointerup", stop);
    viewport.removeEventListener("pointercancel", stop);
  };
  viewport.addEventListener("pointermove", move);
  viewport.addEventListener("pointerup", stop);
  viewport.addEventListener("pointercancel", stop);
}

// Flip: one frame, showing member `m` (null: side by side again). The pan stays.
function showFlip(m) {
  const view = document.getElementById("compare");
  if (!view) return;
  const pan = comparing.flip === null ? panOf(viewports()[0]) : panOf(visibleViewport());
  comparing.flip = m;
  view.classList.toggle("flipping", m !== null);
  for (const pane of view.querySelectorAll(".pane")) {
    pane.hidden = m !== null && Number(pane.dataset.member) !== m;
  }
  if (comparing.zoomed) panTo(...pan);
}

function visibleViewport() {
  return viewports().find((viewport) => viewport.offsetParent !== null) || viewports()[0];
}

// The first press shows the first of the pair; each next one, the other.
function flipPhotos() {
  const group = data.groups[comparing.index];
  if (group.members.length < 2) return;
  const [a, b] = comparing.pair;
  showFlip(comparing.flip === a ? b : a);
}

// Digit N: photo N in the flip frame, paired with the one shown before it.
function flipTo(m) {
  const group = data.groups[comparing.index];
  if (m >= group.members.length) return;
  const before = comparing.flip === null ? comparing.pair[0] : comparing.flip;
  if (before !== m) comparing.pair = [before, m];
  showFlip(m);
}
