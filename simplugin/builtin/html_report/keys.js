// --- The keyboard ----------------------------------------------------------------------
// One key per action, shown by "?". The keys act on the focused photo and its group
// (the first group when nothing is focused); typing in a field is left alone. Moving
// between photos and groups moves the focus, which is always drawn (:focus-visible).

const KEYS = [
  ["j", "next group"],
  ["k", "previous group"],
  ["→ or l", "next photo"],
  ["← or h", "previous photo"],
  ["Enter or Space", "keep this photo"],
  [
    "n",
    data.served
      ? "not a duplicate: leave this group's photos as they are, and record the pair in the ignore list, which later scans read"
      : "not a duplicate: leave this group's photos as they are",
  ],
  ["u", "untick (or tick again) this group"],
  ["c", "compare this group's photos at full size"],
  ["z", "in the compare view: fit, or 100 %"],
  ["f", "in the compare view: flip between two photos in one frame"],
  ["1 – 9", "in the compare view: show that photo in the flip frame"],
  ["s", "in the compare view: side by side again"],
  ["Esc", "close the compare view, or this list"],
  ["?", "show these keys"],
];

function currentGroupItem() {
  const focused = document.activeElement && document.activeElement.closest("li.group");
  return focused || document.querySelector("li.group");
}

function focusPhoto(item, member = null) {
  const index = Number(item.dataset.group);
  const wanted = member === null ? choices[index].keep : member;
  const card = item.querySelector(`.photo[data-member="${wanted}"]`) || item.querySelector(".photo");
  if (card) card.focus();
}

function stepGroup(step) {
  const item = currentGroupItem();
  if (!item) return;
  const items = Array.from(document.querySelectorAll("li.group"));
  const focusedHere = item.contains(document.activeElement);
  let at = items.indexOf(item) + (focusedHere ? step : 0);
  if (at >= items.length && rendered < shown.length) {
    renderMore();
    return stepGroup(step);
  }
  at = Math.max(0, Math.min(at, items.length - 1));
  focusPhoto(document.querySelectorAll("li.group")[at]);
}

function stepPhoto(step) {
  const item = currentGroupItem();
  if (!item) return;
  const cards = Array.from(item.querySelectorAll(".photo"));
  const at = cards.indexOf(document.activeElement);
  const next = at < 0 ? 0 : Math.max(0, Math.min(at + step, cards.length - 1));
  cards[next].focus();
}

// page.js redraws a group when its keeper changes: the focus goes to the same photo.
function keepFocused(card) {
  const item = card.closest("li.group");
  const index = item.dataset.group;
  const member = card.dataset.member;
  card.click();
  const again = document.querySelector(`li[data-group="${index}"] .photo[data-member="${member}"]`);
  if (again) again.focus();
}

// "Not a duplicate" for the whole group: the page's own button (page.js), which records
// it (served page) or leaves the group out of the plan (static page).
function notADuplicateKey() {
  const item = currentGroupItem();
  if (item) markNotADuplicate(Number(item.dataset.group));
}

function untickKey() {
  const item = currentGroupItem();
  if (item) item.querySelector("input.tick").click();
}

function showKeys() {
  let dialog = document.getElementById("keys");
  if (!dialog) {
    const list = element("dl");
    for (const [key, action] of KEYS) {
      list.append(element("div", {}, element("dt", {}, element("kbd", { text: key })), element("dd", { text: action })));
    }
    const close = element("button", { type: "button", text: "Close" });
    close.addEventListener("click", () => dialog.close());
    dialog = element("dialog", { id: "keys", "aria-label": "Keyboard keys" }, element("h2", { text: "Keys" }), list, close);
    document.body.append(dialog);
  }
  if (!dialog.open) dialog.showModal();
}

function compareKey(event) {
  const digit = /^[1-9]$/.test(event.key) ? Number(event.key) - 1 : null;
  if (digit !== null) return flipTo(digit);
  const actions = {
    Escape: () => closeCompare(),
    z: toggleZoom,
    f: flipPhotos,
    s: () => showFlip(null),
    c: () => closeCompare(),
    j: () => openCompare(shown[Math.min(shown.indexOf(comparing.index) + 1, shown.length - 1)]),
    k: () => openCompare(shown[Math.max(shown.indexOf(comparing.index) - 1, 0)]),
  };
  const action = actions[event.key];
  if (!action) return false;
  action();
}

function pageKey(event) {
  const actions = {
    j: () => stepGroup(1),
    k: () => stepGroup(-1),
    l: () => stepPhoto(1),
    ArrowRight: () => stepPhoto(1),
    h: () => stepPhoto(-1),
    ArrowLeft: () => stepPhoto(-1),
    n: notADuplicateKey,
    u: untickKey,
    c: () => {
      const item = currentGroupItem();
      if (item) openCompare(Number(item.dataset.group));
    },
  };
  const card = event.target.closest && event.target.closest(".photo");
  if (card && (event.key === "Enter" || event.key === " ")) return keepFocused(card);
  const action = actions[event.key];
  if (!action) return false;
  action();
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (document.querySelector("dialog#keys[open]")) return; // its own Esc closes it
  if (event.key === "?") {
    event.preventDefault();
    return showKeys();
  }
  const handled = comparing.index !== null ? compareKey(event) : pageKey(event);
  if (handled !== false) event.preventDefault();
});

document.querySelector("#controls .help").append(
  " Press ? for the keys; Compare (c) shows a group's photos side by side at full size.",
);
