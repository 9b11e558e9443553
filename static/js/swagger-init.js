// Starts Swagger UI from a file: the CSP allows no inline script.
// The spec URL comes from the page (data-spec-url), so nothing is hard-coded.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // Keys typed into "Authorize" stay in this tab only.
    persistAuthorization: false,
    // No badge fetched from validator.swagger.io: every request stays on this server.
    validatorUrl: null,
  });
});
