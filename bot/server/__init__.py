"""The HTTP server: ``create_app(project)`` and its lifespan, routes, dependencies, metrics."""
