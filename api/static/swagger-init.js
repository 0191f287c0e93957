// Starts Swagger UI on this server's OpenAPI document. A file of its own, not an inline script:
// the Content-Security-Policy of every page allows only scripts served from here.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
