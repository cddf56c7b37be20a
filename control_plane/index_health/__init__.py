"""Indexes worth dropping (unused, duplicate, prefix-redundant, invalid), each with its drop_index
recommendation in the ordinary approve-and-apply flow."""
