"""Writes the .pyc file of every .py file in the target python's
site-packages that has no up-to-date one, as `uv pip install
--compile-bytecode` does, taking the code of a file compiled before from
a cache mount: python bytecode.py CACHE_DIR.

A .pyc is a 16-byte header (the interpreter's magic number, flags, and the
source's mtime and size, or its hash under SOURCE_DATE_EPOCH as py_compile
does from 3.7) and the marshalled code object. The code depends only on the
interpreter, the source and the path (it holds co_filename), so the cache
is keyed by those three and the header is written for the file at hand.
Files that do not compile get no .pyc, as with pip and uv.

Runs on any CPython 3.6 or later: the base's python3 or a conda one.
"""
import hashlib
import importlib.util
import marshal
import multiprocessing
import os
import sys
import sysconfig
import tempfile
import time


def header(path, source):
    if os.environ.get("SOURCE_DATE_EPOCH") and hasattr(importlib.util, "source_hash"):
        return importlib.util.MAGIC_NUMBER + (3).to_bytes(4, "little") + importlib.util.source_hash(source)
    st = os.stat(path)
    mtime = int(st.st_mtime) & 0xFFFFFFFF
    return importlib.util.MAGIC_NUMBER + bytes(4) + mtime.to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")


def current(pyc, path, source):
    """Whether `pyc` is up to date for `path` as the interpreter checks it:
    a hash-based one (as conda and py_compile write under SOURCE_DATE_EPOCH)
    by the source's hash, any other by the source's mtime and size."""
    try:
        with open(pyc, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    if len(head) < 16 or head[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(head[4:8], "little") & 1:
        return hasattr(importlib.util, "source_hash") and head[8:16] == importlib.util.source_hash(source)
    st = os.stat(path)
    mtime = int(st.st_mtime) & 0xFFFFFFFF
    return head[8:16] == mtime.to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")


def write(path, data):
    """Atomically, as importlib writes .pyc files, through a temporary file
    whose name no other writer can take: the cache is shared by build
    containers, each with its own pid namespace, so a pid is no unique
    name (mkstemp's is random and created exclusively)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def compiled(path):
    """The marshalled code of `path`, or None when it does not compile."""
    try:
        with open(path, "rb") as f:
            source = f.read()
        # held in a name, as importlib holds it: marshal marks the objects it
        # references, and so writes what py_compile and pip write
        code = compile(source, path, "exec", dont_inherit=True)
        return marshal.dumps(code)
    except (SyntaxError, ValueError, UnicodeDecodeError, OSError, RecursionError):
        return None


def build(item):
    """Compiles one file into its .pyc and the cache; False if it does not compile."""
    path, pyc, head, cached = item
    body = compiled(path)
    if body is None:
        return False
    write(cached, body)
    write(pyc, head + body)
    return True


def main(cache):
    started = time.time()
    tag = sys.implementation.cache_tag
    if tag is None:
        print("envd: %s does not write .pyc files" % sys.executable)
        return
    cache = os.path.join(cache, tag)
    roots = sorted({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})
    todo = []  # (source path, .pyc path, header, cache path)
    hits = 0
    for root in roots:
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                try:
                    with open(path, "rb") as f:
                        source = f.read()
                    head = header(path, source)
                    pyc = importlib.util.cache_from_source(path)
                except (OSError, ValueError, NotImplementedError):
                    continue
                if current(pyc, path, source):
                    continue
                key = hashlib.sha256(b"\0".join([importlib.util.MAGIC_NUMBER, path.encode("utf-8", "surrogateescape"), source]))
                digest = key.hexdigest()
                cached = os.path.join(cache, digest[:2], digest[2:])
                try:
                    with open(cached, "rb") as f:
                        body = f.read()
                except OSError:
                    todo.append((path, pyc, head, cached))
                    continue
                write(pyc, head + body)
                hits += 1
    if todo:
        # a line to watch for: tests/e2e/survive.rs interrupts a build here
        print("envd: compiling %d .py files" % len(todo), flush=True)
    done = None
    if len(todo) > 64 and (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
        try:
            with multiprocessing.get_context("fork").Pool() as pool:
                done = pool.map(build, todo, chunksize=32)
        except OSError:
            done = None
    if done is None:
        done = [build(t) for t in todo]
    failed = done.count(False)
    print(
        "envd: wrote %d .pyc files in %s: %d from the bytecode cache, %d compiled%s, in %.2fs"
        % (hits + len(todo) - failed, " ".join(roots), hits, len(todo) - failed,
           " (%d files did not compile)" % failed if failed else "", time.time() - started)
    )


if __name__ == "__main__":
    main(sys.argv[1])
