"""Jobs for agents: a durable queue in the metadata database, leased by any replica, signed on the way out."""
