// The change feed, page side. The server pushes what changed (server-sent events on /api/feed); the page
// never polls. Every tab of this browser shares one connection through a SharedWorker (feed_worker.js);
// where SharedWorker is missing the page opens its own.
import { openFeed } from "./feed_source.js";

const listeners = new Set();

export function onFeed(listener) {
  listeners.add(listener);
}

function dispatch(message) {
  for (const listener of listeners) listener(message);
}

export function connectFeed() {
  if (typeof SharedWorker === "function") {
    try {
      const worker = new SharedWorker(new URL("./feed_worker.js", import.meta.url),
        { type: "module", name: "sandbox-change-feed" });
      worker.port.addEventListener("message", (event) => dispatch(event.data));
      worker.port.start();
      window.addEventListener("pagehide", () => worker.port.postMessage("bye"), { once: true });
      window.addEventListener("pageshow", (event) => {
        if (event.persisted) connectFeed(); // back from the back-forward cache: join again
      }, { once: true });
      return "shared";
    } catch (err) {
      /* no worker allowed here: connect this page on its own */
    }
  }
  const feed = openFeed(dispatch);
  window.addEventListener("pagehide", () => feed.close(), { once: true });
  return "page";
}

// A list the page read once (its first page) and keeps current from the feed. Frames that arrive while
// it loads wait, and those newer than what it read are applied; a hello that says frames were missed
// (the server restarted, or the page fell behind, or the stream started after the list was read and
// something changed in between) reads it again.
export class LiveList {
  constructor(load, apply) {
    this.load = load; // async () => the frame number (seq) the list reflects
    this.apply = apply; // (frame) => void
    this.state = "empty"; // empty, loading, ready
    this.seq = null;
    this.pending = [];
    this.streamSeq = null; // where the current stream started
    this.again = false;
  }

  async reload() {
    if (this.state === "loading") {
      this.again = true;
      return;
    }
    this.state = "loading";
    this.pending = [];
    try {
      this.seq = await this.load();
      this.state = "ready";
    } catch (err) {
      this.state = "empty";
      this.pending = [];
      throw err;
    }
    const waiting = this.pending;
    this.pending = [];
    for (const frame of waiting) this.frame(frame);
    const missed = this.streamSeq !== null && this.streamSeq > this.seq;
    this.streamSeq = null;
    if (this.again || missed) {
      this.again = false;
      await this.reload();
    }
  }

  frame(frame) {
    if (this.state === "loading") this.pending.push(frame);
    else if (this.state === "ready" && frame.seq > this.seq) {
      this.seq = frame.seq;
      this.apply(frame);
    }
  }

  hello(hello) {
    if (hello.resumed) return;
    if (hello.reset) {
      if (this.state !== "empty") this.reload().catch(() => {});
      return;
    }
    if (this.state === "loading") this.streamSeq = hello.seq;
    else if (this.state === "ready" && hello.seq > this.seq) this.reload().catch(() => {});
  }
}
