"""JSON Schemas shipped with civic (forms meta-schema, configuration, outputs)."""
