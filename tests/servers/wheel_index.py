"""Writes pure-python wheels and PEP 503 pages for the end-to-end tests.

    wheel_index.py ROOT SPEC...

Each SPEC is `PLACE:NAME:VERSION[:REQUIRES[:MODULES]]`. PLACE `one` or `two` puts the
wheel on the simple index ROOT/PLACE/simple/NAME/; PLACE `links` on the
flat find-links page ROOT/links/index.html; PLACE `local` only writes it,
to ROOT/local/. A PLACE with a slash, such as `whl/cu116`, is an index in
PyTorch's layout: ROOT/PLACE/NAME/, no `simple`, the wheel beside its page.
VERSION may carry a local version (`1.13.1+cu116`). REQUIRES is a comma-separated list of requirements. Each
wheel's module `NAME` (dashes as underscores) has VERSION and PLACE; MODULES
(a number) adds that many submodules `m0`, `m1`, ... of a hundred functions
each, for a wheel whose .pyc files take a while to write. The
wheels are byte-for-byte the same on every run. Prints one line per wheel:
`PLACE NAME VERSION FILENAME SHA256`.
"""
import hashlib, html, os, sys, zipfile

root = sys.argv[1]
pages = {}
for spec in sys.argv[2:]:
    place, name, version, *rest = spec.split(":")
    requires = [r for r in (rest[0] if rest else "").split(",") if r]
    modules = int(rest[1]) if len(rest) > 1 else 0
    module = name.replace("-", "_")
    wheel = "%s-%s-py3-none-any.whl" % (module, version)
    pytorch = "/" in place
    if pytorch:
        folder = os.path.join(root, place, name)
    else:
        folder = os.path.join(root, place if place in ("links", "local") else place + "/files")
    os.makedirs(folder, exist_ok=True)
    files = {
        "%s/__init__.py" % module: "VERSION = %r\nPLACE = %r\n" % (version, place),
        "%s-%s.dist-info/METADATA" % (module, version): "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s"
        % (name, version, "".join("Requires-Dist: %s\n" % r for r in requires)),
        "%s-%s.dist-info/WHEEL" % (module, version): "Wheel-Version: 1.0\nGenerator: envd-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    body = "".join("def f%d(x):\n    return [x * %d for _ in range(%d)]\n\n" % (i, i, i) for i in range(100))
    for i in range(modules):
        files["%s/m%d.py" % (module, i)] = "N = %d\n%s" % (i, body)
    record = "".join("%s,,\n" % f for f in files) + "%s-%s.dist-info/RECORD,,\n" % (module, version)
    files["%s-%s.dist-info/RECORD" % (module, version)] = record
    path = os.path.join(folder, wheel)
    with zipfile.ZipFile(path, "w") as z:
        for f, text in files.items():
            info = zipfile.ZipInfo(f, date_time=(2020, 1, 1, 0, 0, 0))
            z.writestr(info, text)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    print(place, name, version, wheel, digest)
    if place == "local":
        continue
    if pytorch:
        page, href = folder, wheel
    elif place == "links":
        page, href = os.path.join(root, "links"), wheel
    else:
        page, href = os.path.join(root, place, "simple", name), "../../files/" + wheel
    pages.setdefault(page, []).append('<a href="%s#sha256=%s">%s</a>' % (html.escape(href), digest, wheel))
for page, links in pages.items():
    os.makedirs(page, exist_ok=True)
    with open(os.path.join(page, "index.html"), "w") as f:
        f.write("<html><body>\n%s\n</body></html>\n" % "\n".join(links))
