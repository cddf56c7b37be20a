"""Code both deployables use: the wire contract, SQL safety rules and fingerprinting."""
