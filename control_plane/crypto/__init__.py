"""Key material for the control plane, all derived from the one OPTISCHEMA_SECRET_KEY.

Operators manage a single secret; every use of it (JWT signing per key id, HMACs of opaque tokens,
encryption of secrets at rest) gets its own subkey through HKDF, so a key exposed or misused in one
place says nothing about the others.
"""
