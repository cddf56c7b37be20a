"""Keyed pseudonyms for schema object names, and the reverse map that turns them back into names.

`t_3f9a1c2b` is `t_` + the first 8 hex digits of HMAC-SHA256(key, name): stable for as long as the
key is, a valid unquoted identifier that no SQL keyword looks like, and meaningless without the key.
The prefix says what the name is (s schema, t table or alias, c column, i index, y type, n other),
so the control plane and its LLM still see the structure; the digest is over the name alone, so a
name used in two roles (a table and its alias) gets one digest. 32 bits: two names of one database
colliding is a 1 in 10^5 event for 300 names; a collision is detected and the later name is not
sent (its text is dropped) rather than mapped back to the wrong object.

The reverse map holds every real name the agent pseudonymized, which is every name it read from its
own catalog or wrote into its own findings. It is kept in the state dir beside the key, so that a
restarted agent can still run a job that names an index its advisor invented before the restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from pathlib import Path
from typing import Literal

NameKind = Literal["s", "t", "c", "i", "y", "n", "d"]
NAMES_FILE = Path("privacy") / "names.json"
PSEUDONYM = re.compile(r"^[stciynd]_[0-9a-f]{8}$")
_DIGEST_CHARS = 8

log = logging.getLogger(__name__)


class UnknownPseudonym(Exception):
    """A job names a pseudonym this agent never gave out: it is refused, never guessed."""


class PseudonymCollision(Exception):
    """Two real names share a digest: the text naming the second one is not sent."""


class Pseudonyms:
    def __init__(self, key: bytes, store: Path | None = None) -> None:
        self._key = key
        self._store = store
        self._real_by_digest: dict[str, str] = {}
        # Index names the control plane chose (`t_3f9a1c2b_c_12ab34cd_idx`): made of pseudonyms, so
        # they travel as they are, and the index it asked for is reported under the name it gave.
        self._chosen: set[str] = set()
        # A statement's fingerprint hashes its text, names included: anyone who guesses the text could
        # confirm it. What is sent is keyed like the names, and mapped back for jobs.
        self._fingerprints: dict[str, str] = {}
        self._unsaved = False
        if store is not None and store.exists():
            saved = json.loads(store.read_text())
            for name in saved.get("names", []):
                self._remember(str(name))
            self._chosen.update(str(name) for name in saved.get("chosen_by_control_plane", []))
            self._fingerprints.update(saved.get("fingerprints", {}))

    def digest(self, name: str) -> str:
        return hmac.new(self._key, name.encode(), hashlib.sha256).hexdigest()[:_DIGEST_CHARS]

    def pseudonym(self, name: str, kind: NameKind) -> str:
        """The pseudonym of a name as the catalog spells it (unquoted names already folded)."""
        if name in self._chosen:
            return name
        self._remember(name)
        return f"{kind}_{self.digest(name)}"

    def real_or_chosen(self, name: str) -> str:
        """An index name in a job: a pseudonym's real name, or a new name the control plane chose.

        A name that is neither a pseudonym nor new to the agent is refused: the control plane knows
        no real name, and a job that guesses one must not learn from the answer that it was right."""
        if PSEUDONYM.match(name):
            return self.real(name)
        if self.is_real_name(name):
            raise UnknownPseudonym("the job names an object by a name this agent never sent")
        if name not in self._chosen:
            self._chosen.add(name)
            self._unsaved = True
        return name

    def fingerprint(self, real: str) -> str:
        """A statement's fingerprint as sent: 16 hex digits of HMAC-SHA256, stable like the names."""
        sent = hmac.new(self._key, b"fingerprint:" + real.encode(), hashlib.sha256).hexdigest()[:16]
        if self._fingerprints.get(sent) != real:
            self._fingerprints[sent] = real
            self._unsaved = True
        return sent

    def real_fingerprint(self, sent: str) -> str:
        """The fingerprint behind one the agent sent. Any other is refused rather than looked up: an
        answer would tell whether a guessed statement's real fingerprint is in the workload."""
        real = self._fingerprints.get(sent)
        if real is None:
            raise UnknownPseudonym("the job names a statement fingerprint this agent never sent")
        return real

    def qualified(self, name: str) -> str:
        """`schema.table` (or a bare table) as `s_….t_…`."""
        schema, _, table = name.rpartition(".")
        bare = self.pseudonym(table, "t")
        return f"{self.pseudonym(schema, 's')}.{bare}" if schema else bare

    def real(self, pseudonym: str) -> str:
        if not PSEUDONYM.match(pseudonym):
            raise UnknownPseudonym("a name in the job is not one of this agent's pseudonyms")
        found = self._real_by_digest.get(pseudonym[2:])
        if found is None:
            raise UnknownPseudonym(
                "the job names a pseudonym this agent does not know (was the privacy key changed?)"
            )
        return found

    def real_qualified(self, name: str) -> str:
        schema, _, table = name.rpartition(".")
        bare = self.real(table)
        return f"{self.real(schema)}.{bare}" if schema else bare

    def is_real_name(self, word: str) -> bool:
        """Whether a word of free text (an error message, say) is one of the names kept from the wire."""
        digest = self.digest(word)
        return (
            self._real_by_digest.get(digest) == word
            or self._real_by_digest.get(self.digest(word.lower())) == word.lower()
        )

    def save(self) -> None:
        """Write the reverse map's names (0600) when new ones were learned since the last save."""
        if self._store is None or not self._unsaved:
            return
        self._store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self._store.with_suffix(".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(
                {
                    "names": sorted(self._real_by_digest.values()),
                    "chosen_by_control_plane": sorted(self._chosen),
                    "fingerprints": self._fingerprints,
                },
                file,
            )
        os.replace(partial, self._store)
        self._unsaved = False

    def _remember(self, name: str) -> None:
        digest = self.digest(name)
        known = self._real_by_digest.get(digest)
        if known is None:
            self._real_by_digest[digest] = name
            self._unsaved = True
        elif known != name:
            log.warning("two names share a pseudonym; the text naming the second is not sent")
            raise PseudonymCollision("two names share a pseudonym")
