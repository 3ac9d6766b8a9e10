"""Development's key ring on disk, so a fresh checkout runs without configuring a master key."""

import os
import tempfile
from pathlib import Path

from hazina.vault.keyring import KeyRing, generate_key_entry


def load_or_create_key_file(path: str | os.PathLike[str]) -> tuple[KeyRing, bool]:
    """The key ring in `path`, created (mode 0600) with one new key if absent; True if created.

    The new file is written aside and hard-linked into place, so two processes starting
    together agree on one complete file: the one whose link fails reads the winner's.
    """
    file = Path(path)
    if file.exists():
        return KeyRing.parse(file.read_text(encoding="ascii")), False
    # mkstemp creates the draft readable and writable by its owner only (0600).
    descriptor, draft = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(generate_key_entry("dev1") + "\n")
        try:
            os.link(draft, file)
            created = True
        except FileExistsError:
            created = False
    finally:
        os.unlink(draft)
    return KeyRing.parse(file.read_text(encoding="ascii")), created
