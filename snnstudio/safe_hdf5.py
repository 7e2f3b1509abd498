"""Reading only what is in the HDF5 file the user named, and only as much as it really holds.

An HDF5 file can declare that a dataset's bytes live elsewhere: *external storage*
(``dset.external``: raw bytes of any other file), *virtual datasets* (``dset.is_virtual``: slices
of datasets in other files) and *external links* (``h5py.ExternalLink``: a node of another HDF5
file). Reading such a file would read files the user never named (``/etc/shadow`` as event
timestamps). It can also declare datasets far larger than the bytes it stores (chunks never
written read as the fill value): 10¹² events in a 3 KB file. :func:`check_hdf5` walks every link
of an open file *without following external ones* and refuses both, before any data is read.
Used by the event reader (``events/io/hdf5.py``) and the NIR importer (``snn/nir_io.py``).
No Qt, no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from snnstudio.errors import SnnStudioError

#: most links walked in one file (a file of a million empty groups is refused, not walked)
MAX_LINKS = 100_000
#: most bytes a dataset may declare per byte it stores (gzip peaks near 1030:1)
MAX_EXPANSION = 1100
#: datasets declaring at most this many bytes are never refused for their size
SMALL_DATASET = 1 << 20


def check_hdf5(h5, path: str | Path, error: Callable[[Path, str], SnnStudioError]) -> None:
    """Raise ``error(path, problem)`` when the open file ``h5`` (an ``h5py.File``) has an external
    link, a user-defined link, a dataset with external storage or a virtual dataset, or a dataset
    that declares much more data than the file stores for it."""
    import h5py

    path = Path(path)
    links: list[tuple[str, object]] = []

    def visit(name: str, link) -> bool | None:
        links.append((name, link))
        return True if len(links) > MAX_LINKS else None  # a true value stops the walk

    try:
        h5.visititems_links(visit)
    except Exception as exc:  # a damaged link table
        raise error(path, f"cannot walk the HDF5 file ({type(exc).__name__}: {exc})") from None
    if len(links) > MAX_LINKS:
        raise error(path, f"HDF5 file has more than {MAX_LINKS:,} links; refusing to walk it")
    for name, link in links:
        if isinstance(link, h5py.ExternalLink):
            raise error(path, f"/{name} is an external link to {link.filename}:{link.path}; "
                              "refusing to read another file")
        if isinstance(link, h5py.SoftLink):
            continue  # a name for another node of this file: checked under its own name
        if not isinstance(link, h5py.HardLink):
            raise error(path, f"/{name} is a user-defined HDF5 link ({type(link).__name__}); refusing it")
        try:
            obj = h5.get(name)
        except Exception as exc:
            raise error(path, f"/{name}: cannot open ({type(exc).__name__}: {exc})") from None
        if isinstance(obj, h5py.Dataset):
            check_dataset(obj, path, error)


def check_dataset(dset, path: Path, error: Callable[[Path, str], SnnStudioError]) -> None:
    """Refuse one dataset stored outside the file or declaring far more than it stores."""
    name = dset.name
    try:
        external = dset.external
        virtual = dset.is_virtual
    except Exception as exc:
        raise error(path, f"{name}: cannot read its layout ({type(exc).__name__}: {exc})") from None
    if external:
        files = ", ".join(sorted({str(e[0]) for e in external}))
        raise error(path, f"{name} keeps its data in another file ({files}); refusing external storage")
    if virtual:
        raise error(path, f"{name} is a virtual dataset (data from other files); refusing it")
    try:
        declared = int(dset.size) * int(dset.dtype.itemsize)
        stored = int(dset.id.get_storage_size())
    except Exception as exc:
        raise error(path, f"{name}: cannot read its size ({type(exc).__name__}: {exc})") from None
    if declared > SMALL_DATASET and declared > MAX_EXPANSION * stored:
        raise error(path, f"{name} declares {dset.size:,} values ({declared:,} bytes) but the file stores only "
                          f"{stored:,} bytes of it")
