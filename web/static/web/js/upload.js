// Uploads: drag and drop or the file picker, several files at once (three in flight), each with its
// own progress bar; and the sample-images button.
import { postJSON, uploadFile } from "./api.js";
import { $, el, fmtBytes } from "./dom.js";

const PARALLEL = 3;
const KEEP_ROWS = 12;
let ctx;
const queue = [];
let active = 0;

export function init(context) {
  ctx = context;
  const input = $("#file-input");
  input.addEventListener("change", () => {
    enqueue(Array.from(input.files));
    input.value = ""; // choosing the same file again uploads it again
  });
  const zone = $("#dropzone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "dragend"]) zone.addEventListener(type, () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    enqueue(Array.from(event.dataTransfer.files || []));
  });
  // A file dropped beside the zone would otherwise replace the page with the image.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  $("#upload-samples").addEventListener("click", uploadSamples);
}

function row(name, size) {
  const progress = el("progress", { max: 1, value: 0 });
  const status = el("span", { class: "upload-status", text: "waiting" });
  const li = el("li", { class: "upload-item" },
    el("span", { class: "upload-name", title: name, text: name }),
    el("span", { class: "upload-size muted", text: size === null ? "" : fmtBytes(size) }),
    progress, status);
  const list = $("#upload-list");
  list.prepend(li);
  while (list.children.length > KEEP_ROWS) list.lastElementChild.remove();
  return { li, progress, status };
}

function finish(r, ok, text) {
  r.li.classList.add(ok ? "ok" : "failed");
  r.status.textContent = text;
  if (ok) r.progress.value = 1;
}

function enqueue(files) {
  for (const file of files) {
    const r = row(file.name, file.size);
    if (file.size > ctx.maxUploadBytes) {
      // The server would answer 413; say so before sending the bytes.
      finish(r, false, `too large: ${fmtBytes(file.size)}, the limit is ${ctx.maxUploadText}`);
      continue;
    }
    queue.push({ file, r });
  }
  pump();
}

function pump() {
  while (active < PARALLEL && queue.length) {
    const { file, r } = queue.shift();
    active += 1;
    r.status.textContent = "uploading";
    uploadFile(file, (fraction) => {
      r.progress.value = fraction;
      r.status.textContent = `${Math.round(fraction * 100)}%`;
    })
      .then(() => {
        finish(r, true, "uploaded"); // the gallery hears of it through the change feed
      })
      .catch((err) => finish(r, false, err.message))
      .finally(() => {
        active -= 1;
        pump();
      });
  }
}

async function uploadSamples() {
  const button = $("#upload-samples");
  button.disabled = true;
  const r = row("sample images", null);
  r.progress.removeAttribute("value"); // indeterminate
  r.status.textContent = "uploading";
  try {
    const data = await postJSON("/api/upload-samples");
    finish(r, true, `uploaded ${data.uploaded.length} files`);
  } catch (err) {
    finish(r, false, err.message);
  } finally {
    button.disabled = false;
  }
}
