"""Built-in slapolicy plugins. Each module registers through the ``slapolicy`` entry-point
group in pyproject.toml, exactly as a third-party plugin would; the engine never imports them."""
