"""Built-in slapolicy plugins. Each module registers through the ``slapolicy`` entry-point
group in pyproject.toml, exactly as a third-party plugin would. No module of the engine imports them in its
code: the plugin manager names them, as text, in ``slapolicy.plugins.DEFAULT_PLUGINS``, and registers them by
that name before the entry points, so that an install which lost its entry points still reads incidents and
notices (docs/plugins.md; tests/test_layout.py checks both)."""
