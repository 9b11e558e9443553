// Live status (referral/live.py): a page waiting for Stripe or the worker has
// an element [data-live] naming a JSON status URL and the state the page
// shows. Poll it; when the state changes (or the wait is over), fetch this
// page again and put its <main> in place. Stop when nothing waits any more or
// after data-live-timeout seconds. Without this script, the reload link.
(() => {
  let deadline = null;

  function watch() {
    const live = document.querySelector("[data-live]");
    if (!live) return;
    const interval = Number(live.dataset.liveInterval || 1000);
    if (deadline === null) deadline = Date.now() + Number(live.dataset.liveTimeout || 120) * 1000;
    const reload = live.querySelector(".live-reload");
    if (reload) reload.hidden = true;

    async function tick() {
      if (!live.isConnected) return;
      if (Date.now() > deadline) {
        live.classList.add("timed-out");
        live.querySelectorAll(".live-timeout, .live-reload").forEach((el) => { el.hidden = false; });
        return;
      }
      try {
        const response = await fetch(live.dataset.live, {
          headers: { Accept: "application/json" }, cache: "no-store",
        });
        if (response.ok) {
          const status = await response.json();
          if (status.state !== live.dataset.liveState || status.done) {
            await refresh(status.done);
            return;
          }
        }
      } catch (error) {
        // The network blinked: try again at the next tick.
      }
      window.setTimeout(tick, interval);
    }
    window.setTimeout(tick, interval);
  }

  async function refresh(done) {
    const response = await fetch(window.location.href, { cache: "no-store" });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("main");
    const main = document.querySelector("main");
    if (fresh && main) {
      main.replaceChildren(...fresh.childNodes);
      document.dispatchEvent(new CustomEvent("referral:updated"));
    }
    if (!done) watch();
  }

  watch();
})();
