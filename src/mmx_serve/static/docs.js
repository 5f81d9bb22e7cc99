// The API docs page: Swagger UI over this server's own document (no script from another site).
window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
