"""The agent console: server-rendered pages at /console over the orders service's own services."""
