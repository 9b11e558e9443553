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
document.querySelectorAll("[data-basis]").forEach((select) => {
  showFieldsForBasis(select);
  select.addEventListener("change", () => showFieldsForBasis(select));
});
