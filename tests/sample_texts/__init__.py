"""A plugin package with its own text catalogue, for the ``register_texts`` tests."""
