"""HTTP routes, one module per area; ``bot.server.app`` includes them."""
