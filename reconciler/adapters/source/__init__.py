"""The Git source: one revision of the desired-state folder, read from a Git repository.

This package is the only one that imports GitPython (``git``); every GitPython or ``git`` failure
is translated here, once, into :class:`~reconciler.errors.SourceError`. Its modules:
``fetching`` (:class:`GitSource`, :class:`Checkout`, :class:`RevisionRelation`), ``reading`` (the
files of a tree or a folder, bounded), ``signatures`` (:class:`SignaturePolicy` and ``git
verify-commit``), ``urls`` (allowed protocols, credentials) and ``repositories`` (the pinned
``git`` environment, :func:`commit_folder`, :func:`work_tree_top`).

A repository is given as

* a URL: ``file://``, ``https://`` (credentials may be embedded: ``https://user:token@host/...``),
  ``ssh://`` or scp-like ``git@host:org/repo.git``; no other protocol is allowed (``http://``,
  ``git://``, ``ext::``, ``fd::`` and every other transport are refused when the source is made,
  and every ``git`` command runs with ``GIT_ALLOW_PROTOCOL=file:https:ssh``, whatever the
  environment says, so a redirect or a configured URL rewrite cannot reach another one either);
* a local path to a bare repository, or to a work tree when a ``ref`` is given: both are fetched
  like a URL into the cache;
* a local path to the top of a work tree, with no ``ref``: used as it is, without cloning, at the
  revision of its ``HEAD`` (the laptop case; see :meth:`GitSource.fetch` for uncommitted edits).
  :func:`work_tree_top` finds that top from any folder of the work tree (the CLI uses it).

A ``ref`` of a local repository is any revision expression git accepts there (``HEAD~3``,
``main~1``, ``v1^2``, an abbreviated SHA: ``git rev-parse --verify REF^{commit}``), except an
option-like one (a leading ``-``) or one with whitespace or control characters, refused at once.

The desired-state files are read from the commit's tree through Git objects (``git ls-tree``,
``git cat-file``), never from a checked-out file system: a symbolic link, a submodule or any
entry that is not a regular file is never read, but reported as a problem naming it
(:attr:`Checkout.problems`); every read is bounded (:class:`ReadLimits`). Fetched repositories
live in ``cache_dir`` (default ``$XDG_CACHE_HOME/identity-center-reconciler/sources``, else
``~/.cache/...``), one bare repository per source repository, with no work tree.

Credentials embedded in a URL never reach a command line (where every user could read them in
the process table): ``git`` is given the URL without them, and an ``Authorization`` header
scoped to that URL through its environment (``GIT_CONFIG_*``). They are never written to the
cache (no remote is configured; every fetch names the URL) and never appear in messages, logs or
:class:`Checkout` (see :func:`redact_credentials`). ``git`` runs with terminal and askpass
prompts disabled, so a missing credential fails at once instead of waiting for input.

With a :class:`SignaturePolicy`, :meth:`GitSource.fetch` refuses a revision that is not signed by
a trusted key (:class:`~reconciler.errors.UnverifiedRevisionError`) before reading it. The
check is ``git verify-commit``'s, for OpenPGP and SSH signatures alike: OpenPGP public keys are
imported into a private ``GNUPGHOME`` the source makes (the user's keyring is never read), SSH keys
are read from an ``allowed_signers`` file (``ssh-keygen(1)``'s format). See
``docs/signed-revisions.md`` for merge commits signed by a hosting service.

:func:`commit_folder` writes the other way: it commits a folder to a local repository (the demo
and tests use it to make the repository a :class:`GitSource` then reads).
"""

from reconciler.adapters.source.fetching import Checkout, GitSource, RevisionRelation
from reconciler.adapters.source.reading import ReadLimits, read_directory
from reconciler.adapters.source.repositories import (
    DEFAULT_SUBPATH,
    commit_folder,
    work_tree_top,
)
from reconciler.adapters.source.signatures import SignaturePolicy
from reconciler.adapters.source.urls import ALLOWED_PROTOCOLS, redact_credentials

__all__ = [
    "ALLOWED_PROTOCOLS",
    "DEFAULT_SUBPATH",
    "Checkout",
    "GitSource",
    "ReadLimits",
    "RevisionRelation",
    "SignaturePolicy",
    "commit_folder",
    "read_directory",
    "redact_credentials",
    "work_tree_top",
]
