"""Privacy mode: schema, table, column and index names replaced by keyed pseudonyms in all the agent sends."""
