"""statevtab for Python: the loadable SQLite extension built for this
platform, and load(conn) for a sqlite3.Connection (as sqlite-vec's
package does).

    import sqlite3, statevtab
    conn = sqlite3.connect("app.db")
    statevtab.load(conn)
"""
import os

__version__ = "%VERSION%"


def loadable_path():
    """The path of the extension, without its suffix (as load_extension
    takes it)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "statevtab")


def load(conn):
    """Load statevtab into conn (a sqlite3.Connection).  A Python built
    without extension loading has no enable_load_extension: see the
    README's Building and loading."""
    if not hasattr(conn, "enable_load_extension"):
        raise RuntimeError(
            "statevtab: this Python's sqlite3 cannot load extensions "
            "(built without --enable-loadable-sqlite-extensions); use the "
            "system's python3 or rebuild Python with that option")
    conn.enable_load_extension(True)
    try:
        conn.load_extension(loadable_path())
    finally:
        conn.enable_load_extension(False)
