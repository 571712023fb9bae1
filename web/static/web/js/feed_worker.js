// The browser's one connection to the change feed, shared by every tab of the page (a SharedWorker):
// browsers allow only six connections per site, and each open EventSource holds one, so a teacher with
// many tabs open would otherwise run out. Each tab gets every message through its port, and says which
// lists it has open; the stream carries what any tab needs.
import { openFeed } from "./feed_source.js";

const ports = new Map(); // port -> the topics its tab asked for
let feed = null;

function post(message) {
  for (const port of ports.keys()) port.postMessage(message);
}

function wanted() {
  const topics = new Set();
  for (const asked of ports.values()) for (const topic of asked) topics.add(topic);
  return topics;
}

self.addEventListener("connect", (event) => {
  const port = event.ports[0];
  ports.set(port, []);
  port.addEventListener("message", (message) => {
    if (message.data === "bye") {
      ports.delete(port);
      if (!ports.size && feed) {
        feed.close(); // the last tab has gone: no stream stays open for nobody
        feed = null;
      }
      return;
    }
    if (message.data && message.data.topics) {
      ports.set(port, message.data.topics);
      const topics = wanted();
      if (!feed) {
        feed = openFeed(post, topics);
        return;
      }
      const before = new Set(feed.topics());
      if ([...topics].some((topic) => !before.has(topic))) feed.setTopics(new Set([...before, ...topics]));
      else {
        // Already carried: this tab may start at once, from where the stream is.
        const joined = feed.joined();
        port.postMessage({ type: joined.up ? "up" : "down" });
        if (joined.hello) port.postMessage({ type: "hello", hello: joined.hello });
      }
    }
  });
  port.start();
});
