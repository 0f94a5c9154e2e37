"""simplugin's built-in plugins.

Each module here is a plugin written exactly as a third-party one would be: it imports
only the public `simplugin` API and is registered through the `simplugin` entry points
in pyproject.toml.
"""
