# Type stubs for the libtorrent module (libtorrent-rs).
__version__: str
version: str
version_major: int
version_minor: int

# bencode
def bdecode(data: bytes | bytearray, /) -> object: ...
def bencode(entry: object, /) -> bytes: ...
