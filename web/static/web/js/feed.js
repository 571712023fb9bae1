import { showBanner } from "./dom.js";

// The change feed, page side. The server pushes what changed (server-sent events on /api/feed); the page
// never polls. Every tab of this browser shares one connection through a SharedWorker (feed_worker.js);
// where SharedWorker is missing the page opens its own (feed_source.js, loaded only then). The stream
// carries the lists the page has open (`topics`): a tab that opens another list asks for it first.
const listeners = new Set();
let topics = new Set(["gallery"]);
let send = null; // (topics) => void: tell the connection which lists this page needs
const waiting = []; // [topics, resolve]: tabs waiting for a stream that carries their list

export function onFeed(listener) {
  listeners.add(listener);
}

function dispatch(message) {
  if (message.type === "hello") {
    const carried = new Set(message.hello.topics || []);
    for (const entry of [...waiting]) {
      if ([...entry[0]].every((topic) => carried.has(topic))) {
        waiting.splice(waiting.indexOf(entry), 1);
        entry[1]();
      }
    }
  }
  for (const listener of listeners) listener(message);
}

export function connectFeed() {
  if (typeof SharedWorker === "function") {
    try {
      const worker = new SharedWorker(new URL("./feed_worker.js", import.meta.url),
        { type: "module", name: "sandbox-change-feed" });
      worker.port.addEventListener("message", (event) => dispatch(event.data));
      worker.port.start();
      send = (wanted) => worker.port.postMessage({ topics: [...wanted] });
      send(topics);
      window.addEventListener("pagehide", () => worker.port.postMessage("bye"), { once: true });
      window.addEventListener("pageshow", (event) => {
        if (event.persisted) connectFeed(); // back from the back-forward cache: join again
      }, { once: true });
      return "shared";
    } catch (err) {
      /* no worker allowed here: connect this page on its own */
    }
  }
  let feed = null;
  send = (wanted) => {
    if (feed) feed.setTopics(wanted);
  };
  import("./feed_source.js").then(({ openFeed }) => {
    feed = openFeed(dispatch, topics);
    window.addEventListener("pagehide", () => feed.close(), { once: true });
  });
  return "page";
}

// Resolves once the stream carries `topic` (at once if it already does), so that a list read afterwards
// misses no frame. If the sandbox does not answer, the list is read anyway after a while (and says so).
export function needTopic(topic) {
  if (topics.has(topic)) return Promise.resolve();
  topics = new Set([...topics, topic]);
  const wanted = new Set(topics);
  return new Promise((resolve) => {
    waiting.push([wanted, resolve]);
    if (send) send(wanted);
    setTimeout(resolve, 3000);
  });
}

// A list the page read once (its first page) and keeps current from the feed. Frames that arrive while
// it loads wait, and those newer than what it read are applied; a hello that says frames were missed
// (the server restarted, or the page fell behind, or the stream started after the list was read and
// something changed in between) reads it again.
export class LiveList {
  constructor(load, apply, banner, settled = null) {
    this.load = load; // async () => the frame number (seq) the list reflects
    this.apply = apply; // (frame) => void
    this.banner = banner; // the tab's error banner: says why the list could not be read
    // () => void, called once a read has ended (the tab's empty state can only be decided then)
    this.settled = settled;
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
      if (this.settled) this.settled();
      throw err;
    }
    if (this.settled) this.settled();
    const waitingFrames = this.pending;
    this.pending = [];
    for (const frame of waitingFrames) this.frame(frame);
    const missed = this.streamSeq !== null && this.streamSeq > this.seq;
    this.streamSeq = null;
    if (this.again || missed) {
      this.again = false;
      await this.reload();
    }
  }

  // Read the list (again), saying why in the tab's banner if it cannot be read; true when it was.
  async refresh() {
    try {
      await this.reload();
      showBanner(this.banner, null);
      return true;
    } catch (err) {
      showBanner(this.banner, err.message);
      return false;
    }
  }

  // The tab is shown: read its list the first time.
  show() {
    if (this.state === "empty") this.refresh();
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
