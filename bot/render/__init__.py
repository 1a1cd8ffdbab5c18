"""Renderers: command results as terminal text. JSON comes from each result's to_json()."""
