// Customer imports: no double submits, and progress that updates by itself.
document.querySelectorAll("form[data-busy]").forEach((form) => {
  form.addEventListener("submit", () => {
    // After the form's data is taken: a button disabled now would leave out
    // its own name (the File-from chooser's "Use its columns").
    window.setTimeout(() => {
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        button.disabled = true;
        button.textContent = "Working…";
      });
    }, 0);
  });
});

// Choosing the tool a file came from applies its columns at once.
document.querySelectorAll("select[data-applies]").forEach((select) => {
  select.addEventListener("change", () => document.getElementById(select.dataset.applies)?.click());
});

const progress = document.querySelector("#progress[data-status-url]");
if (progress && ["queued", "running"].includes(progress.dataset.status)) {
  const bar = progress.querySelector("progress");
  const poll = async () => {
    const response = await fetch(progress.dataset.statusUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const status = await response.json();
    for (const name of ["status", "rows_done", "rows_total", "errors"]) {
      const field = progress.querySelector(`[data-field="${name}"]`);
      if (field) field.textContent = status[name];
    }
    if (bar) {
      bar.max = status.rows_total || 1;
      bar.value = status.rows_done;
    }
    if (status.finished) {
      window.location.reload();
    } else {
      window.setTimeout(poll, 1500);
    }
  };
  window.setTimeout(poll, 1000);
}
