"""libtorrent-rs: a BitTorrent engine written in Rust, importable as ``libtorrent``.

Everything public lives in the native extension; this package only re-exports it.
"""
from ._libtorrent import *  # noqa: F401,F403
from . import _libtorrent as _native

__version__ = _native.__version__
__all__ = [n for n in dir(_native) if not n.startswith("_")]
