"""Where a repository folder comes from: a local path, a Hub id, the Hub cache, or the package.

:func:`resolve_source` turns a source into a local folder: the folder itself, the snapshot
of a Hugging Face Hub repository, or its copy in the local Hub cache when there is no
network (:func:`hub_cache_dir`); :class:`HubUnavailableError` says which of these failed.
:func:`bundled_interpreter` is the folder of an interpreter shipped inside the package.
Nothing here builds a model: that is :mod:`speechbrain_interp.loading`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["HubUnavailableError", "hub_cache_dir", "resolve_source", "bundled_interpreter", "bundled_folder",
           "BUNDLED_INTERPRETER"]

#: What a Hugging Face Hub repository id looks like (``name`` or ``org/name``).
REPO_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$|^[A-Za-z0-9][\w.-]*$")


class HubUnavailableError(OSError):
    """A Hub repository could not be downloaded and is not in the local cache."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_cache_dir() -> Path:
    """The Hub cache huggingface_hub uses, read from the environment at call time.

    Example
    -------
    >>> isinstance(hub_cache_dir(), Path)
    True
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def resolve_source(source, revision: str | None = None, offline: bool | None = None,
                   cache_dir=None, allow_patterns=None) -> Path:
    """A local folder holding the repository: ``source`` itself, or its Hub snapshot.

    Arguments
    ---------
    source : str or Path
        A local folder, the name of an interpreter bundled with the package (e.g.
        ``"lmac-esc50-compact-conditional"``, see :func:`bundled_interpreter`), or a Hub id
        such as ``"org/name"``.
    revision : str, optional
        Hub branch, tag or commit.
    offline : bool, optional
        Never touch the network (default: the ``HF_HUB_OFFLINE`` environment variable).
        Without network, the copy in the Hub cache is used when there is one.
    cache_dir : str or Path, optional
        Hub cache (default: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else huggingface_hub's).
    allow_patterns : list of str, optional
        Download only the files of a Hub repository that match (``snapshot_download``'s
        patterns), e.g. a transformers model's configs and safetensors without its ``.bin``
        duplicates; default: the whole repository.

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        ``source`` looks like a path but is no folder.
    HubUnavailableError
        The Hub could not be reached (or ``offline``) and the cache holds no copy.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> resolve_source(folder) == Path(folder).resolve()
    True
    >>> resolve_source("lmac-esc50-compact").name
    'lmac-esc50-compact'
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return path.resolve()
    bundled = bundled_folder(source)
    if bundled is not None:
        return bundled
    if isinstance(source, Path) or text.startswith((".", "/", "~")) or not REPO_ID_PATTERN.match(text):
        raise FileNotFoundError(
            f"'{text}' is not a folder, and does not look like a Hugging Face Hub id (org/name)"
        )
    import huggingface_hub
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = _env_flag("HF_HUB_OFFLINE") if offline is None else offline
    cache = Path(cache_dir) if cache_dir is not None else hub_cache_dir()
    kwargs = {"repo_id": text, "revision": revision, "cache_dir": str(cache),
              "allow_patterns": allow_patterns}
    try:
        return Path(huggingface_hub.snapshot_download(local_files_only=offline, **kwargs))
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise HubUnavailableError(
            f"the Hugging Face Hub has no repository '{text}'"
            + (f" at revision '{revision}'" if revision else "")
            + " (or it is private: log in with `hf auth login`)"
        ) from err
    except (LocalEntryNotFoundError, OSError, ValueError) as err:
        reason = "offline mode (HF_HUB_OFFLINE or offline=True)" if offline else (
            f"the Hub could not be reached ({str(err).splitlines()[0][:160]})")
        try:  # huggingface_hub usually falls back to the cache itself; be explicit
            return Path(huggingface_hub.snapshot_download(local_files_only=True, **kwargs))
        except Exception:
            pass
        raise HubUnavailableError(
            f"cannot load '{text}': {reason}, and the Hub cache at {cache} holds no copy of it. "
            "Either connect to the internet once (it is cached for offline use afterwards), "
            f"or copy the repository folder to this machine and pass its path instead of "
            f"'{text}', or point HF_HOME / HF_HUB_CACHE at a cache that holds it"
        ) from err


#: Name of the interpreter bundled with the package (``speechbrain_interp/pretrained/<name>``).
BUNDLED_INTERPRETER = "lmac-esc50-compact"


def bundled_folder(name):
    """The folder of the interpreter bundled with the package that ``name`` names, or None.

    Only a bare name (a string without ``/``) of a folder holding ``config.json`` counts.

    Example
    -------
    >>> bundled_folder("lmac-esc50-compact").name, bundled_folder("no-such-interpreter")
    ('lmac-esc50-compact', None)
    """
    if not isinstance(name, str) or "/" in name:
        return None
    folder = Path(__file__).resolve().parent / "pretrained" / name
    return folder if (folder / "config.json").is_file() else None


def bundled_interpreter(name: str = BUNDLED_INTERPRETER) -> Path:
    """Folder of a pretrained interpreter shipped inside the package (works offline).

    The default is an L-MAC interpreter for the project's compact ESC-50 classifier,
    trained by ``recipes/ESC50/interpret``; its ``README.md`` is the model card.

    Raises
    ------
    FileNotFoundError
        The package was installed without its pretrained data.

    Example
    -------
    >>> import json
    >>> json.loads((bundled_interpreter() / "config.json").read_text())["speechbrain_interface"]
    'LMACInterface'
    >>> bundled_interpreter("no-such-interpreter")
    Traceback (most recent call last):
    ...
    FileNotFoundError: the bundled interpreter 'no-such-interpreter' is not in this installation ...
    """
    folder = bundled_folder(name)
    if folder is None:
        folder = Path(__file__).resolve().parent / "pretrained" / name
        available = sorted(p.name for p in folder.parent.glob("*") if (p / "config.json").is_file())
        raise FileNotFoundError(
            f"the bundled interpreter '{name}' is not in this installation ({folder}); available: "
            f"{available or 'none'}. Reinstall the package with its data, or pass --interpreter SOURCE"
        )
    return folder
