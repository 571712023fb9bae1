// The browser's one connection to the change feed, shared by every tab of the page (a SharedWorker):
// browsers allow only six connections per site, and each open EventSource holds one, so a teacher with
// many tabs open would otherwise run out. Each tab gets every message through its port.
import { openFeed } from "./feed_source.js";

const ports = new Set();
let feed = null;

function post(message) {
  for (const port of ports) port.postMessage(message);
}

self.addEventListener("connect", (event) => {
  const port = event.ports[0];
  ports.add(port);
  port.addEventListener("message", (message) => {
    if (message.data !== "bye") return;
    ports.delete(port);
    if (!ports.size && feed) {
      feed.close(); // the last tab has gone: no stream stays open for nobody
      feed = null;
    }
  });
  port.start();
  if (!feed) {
    feed = openFeed(post);
    return;
  }
  const joined = feed.joined();
  port.postMessage({ type: joined.up ? "up" : "down" });
  if (joined.hello) port.postMessage({ type: "hello", hello: joined.hello });
});
