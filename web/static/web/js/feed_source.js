// One EventSource on /api/feed, turned into messages: {type: "up" | "down"}, {type: "hello", hello} and
// {type: "frame", seq, data} (data: the frame's JSON text, parsed by whoever applies it). Used by the
// shared worker (feed_worker.js) for every tab of the browser, or by a page on its own where
// SharedWorker is missing (feed.js). `topics`: the lists the stream carries (gallery, invocations, logs).
export function openFeed(post, topics) {
  const now = { up: false, hello: null, seq: null, last: null, id: null, topics: [...topics].sort() };
  let source = null;

  function open(after) {
    const query = new URLSearchParams({ topics: now.topics.join(",") });
    if (after) query.set("last", after); // a new stream for other topics resumes where this one was
    source = new EventSource(`/api/feed?${query.toString()}`);
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
      now.hello = hello;
      if (!hello.resumed) {
        now.seq = hello.seq; // resumed: the frames missed meanwhile follow
        now.last = null;
      }
      post({ type: "hello", hello });
    });
    source.addEventListener("message", (event) => {
      now.id = event.lastEventId;
      now.seq = Number(event.lastEventId.split(".")[1]);
      now.last = event.data; // read only if a tab joins: a frame is parsed once, by the tab that applies it
      post({ type: "frame", seq: now.seq, data: event.data });
    });
  }

  open(null);
  return {
    // Where the stream is now, for a tab that joins later: it will get every frame after `seq`.
    joined() {
      if (now.seq === null) return { up: now.up, hello: null };
      const last = now.last === null ? null : JSON.parse(now.last);
      return {
        up: now.up,
        hello: {
          seq: now.seq,
          counts: last ? last.counts : now.hello.counts,
          revision: last ? last.revision : now.hello.revision,
          topics: now.topics,
          resumed: false,
          reset: false,
        },
      };
    },
    topics() {
      return now.topics;
    },
    // Carry other lists: a new stream, from the last frame this one had.
    setTopics(wanted) {
      const sorted = [...wanted].sort();
      if (sorted.join() === now.topics.join()) return;
      now.topics = sorted;
      const after = now.id;
      source.close();
      open(after);
    },
    close() {
      source.close();
    },
  };
}
