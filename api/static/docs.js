// Starts Swagger UI on /docs from a file of this server (no inline script, so a strict
// Content-Security-Policy holds). The OpenAPI address comes from the page; no validator badge is
// fetched from outside.
(function () {
  var target = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: target.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
