"""civic's built-in behaviour, each module an ordinary plugin that can be blocked."""
