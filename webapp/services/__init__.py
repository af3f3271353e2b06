"""The rules of the product, shared by the web UI, the JSON API and the CLI."""
