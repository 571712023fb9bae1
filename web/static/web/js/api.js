// Talking to the page's own server. State-changing requests carry the per-page token in a header
// (X-Sandbox-Token); the server refuses them without it.

const TOKEN = document.querySelector('meta[name="sandbox-token"]').content;

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function parse(response) {
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error) || `The server answered ${response.status} ${response.statusText}.`;
    throw new ApiError(message, response.status);
  }
  return data;
}

// `pending`: a fetch of the same URL already made (the gallery's preloaded first page), to take instead.
export async function getJSON(url, pending = null) {
  let response;
  try {
    response = await (pending || fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" }));
  } catch (err) {
    throw new ApiError("The sandbox's page server is not answering; is run_local.py still running?", 0);
  }
  return parse(response);
}

export async function postJSON(url, body = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Sandbox-Token": TOKEN },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError("The sandbox's page server is not answering; is run_local.py still running?", 0);
  }
  return parse(response);
}

// One file per request, so each gets its own progress bar. XMLHttpRequest, because fetch() cannot
// report upload progress.
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.setRequestHeader("X-Sandbox-Token", TOKEN);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      const data = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError((data && data.error) || `The server answered ${xhr.status}.`, xhr.status));
    });
    xhr.addEventListener("error", () => reject(new ApiError("The upload was cut off before the server answered.", 0)));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export function objectUrl(bucket, key, etag) {
  const params = new URLSearchParams({ bucket, key });
  if (etag) params.set("v", etag);
  return `/api/object?${params.toString()}`;
}
