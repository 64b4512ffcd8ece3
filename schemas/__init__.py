"""The single source of truth for packshot's data shapes: settings, presets, models, catalog."""
