// One EventSource on /api/feed, turned into messages: {type: "up" | "down"}, {type: "hello", hello} and
// {type: "frame", frame}. Used by the shared worker (feed_worker.js) for every tab of the browser, or by
// a page on its own where SharedWorker is missing (feed.js).
export function openFeed(post) {
  const now = { up: false, seq: null, counts: null, revision: null };
  const source = new EventSource("/api/feed");
  source.addEventListener("open", () => {
    now.up = true;
    post({ type: "up" });
  });
  source.addEventListener("error", () => {
    // The browser reconnects by itself (the server asks for 2 s), sending the last frame's id: the
    // server then resumes where this stream stopped, or says "reset" and the lists are read again.
    now.up = false;
    post({ type: "down" });
  });
  source.addEventListener("hello", (event) => {
    const hello = JSON.parse(event.data);
    if (!hello.resumed) now.seq = hello.seq; // resumed: the frames missed meanwhile follow
    now.counts = hello.counts;
    now.revision = hello.revision;
    post({ type: "hello", hello });
  });
  source.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    now.seq = frame.seq;
    if (frame.counts) now.counts = frame.counts;
    if (frame.revision !== undefined) now.revision = frame.revision;
    post({ type: "frame", frame });
  });
  return {
    // Where the stream is now, for a tab that joins later: it will get every frame after `seq`.
    joined() {
      return { up: now.up, hello: now.seq === null ? null
        : { seq: now.seq, counts: now.counts, revision: now.revision, resumed: false, reset: false } };
    },
    close() {
      source.close();
    },
  };
}
