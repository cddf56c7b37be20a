"""Tabular exports of API lists (CSV beside the JSON form)."""
