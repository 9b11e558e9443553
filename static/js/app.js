// Progressive enhancements only: every page works without this file.
document.addEventListener("click", (event) => {
  const confirmable = event.target.closest("[data-confirm]");
  if (confirmable && !window.confirm(confirmable.dataset.confirm)) {
    event.preventDefault();
  }
  const copier = event.target.closest("[data-copy]");
  if (copier) {
    const source = document.getElementById(copier.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim());
      copier.textContent = "Copied";
    }
  }
});

// Terms forms: show only the amount field the chosen commission basis uses.
function showFieldsForBasis(select) {
  const fieldset = select.closest("[data-terms]");
  fieldset.querySelectorAll("[data-for-basis]").forEach((field) => {
    field.hidden = !field.dataset.forBasis.split(" ").includes(select.value);
  });
}
document.querySelectorAll("[data-basis]").forEach(showFieldsForBasis);
document.addEventListener("change", (event) => {
  if (event.target.matches("[data-basis]")) showFieldsForBasis(event.target);
});

// Choosing a customer fills the ZIP code field with theirs, unless someone
// typed another ZIP code there. A choice made before this script ran (a quick
// hand on a slow phone, or the browser restoring the form on Back) counts too.
function fillZipFrom(select) {
  const field = document.getElementById(select.dataset.fillsZip);
  const zip = select.selectedOptions[0]?.dataset.zip || "";
  if (field && zip && (field.value === "" || field.value === field.dataset.filled)) {
    field.value = zip;
    field.dataset.filled = zip;
  }
}
document.querySelectorAll("select[data-fills-zip]").forEach(fillZipFrom);
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-fills-zip]");
  if (select) fillZipFrom(select);
});

// The top bar's menu on a phone: a Menu button folds the navigation away.
// Without this script the menu stays open (and the button hidden).
const menuToggle = document.querySelector(".menu-toggle");
const menu = document.getElementById("menu");
if (menuToggle && menu) {
  document.documentElement.classList.add("js-menu");
  menuToggle.hidden = false;
  menuToggle.addEventListener("click", () => {
    const open = menu.classList.toggle("open");
    menuToggle.setAttribute("aria-expanded", String(open));
  });
}

// Lists on a phone show each row as a card: each cell names its column.
function labelCells() {
  document.querySelectorAll("table.table").forEach((table) => {
    const headings = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    if (!headings.length) return;
    table.querySelectorAll("tbody tr").forEach((row) => {
      let column = 0;
      for (const cell of row.children) {
        if (headings[column] && !cell.hasAttribute("data-label")) {
          cell.dataset.label = headings[column];
        }
        column += cell.colSpan || 1;
      }
    });
  });
}
labelCells();
// static/js/live.js put a page's new content in place.
document.addEventListener("referral:updated", () => {
  labelCells();
  document.querySelectorAll("[data-basis]").forEach(showFieldsForBasis);
});
