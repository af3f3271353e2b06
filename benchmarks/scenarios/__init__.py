"""One module per benchmark scenario; each exposes ``run(ctx) -> list[Result]``."""
